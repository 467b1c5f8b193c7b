"""The executor: graphql-core's, with plain fields read straight off their objects.

Most fields of a page are plain: a scalar or enum attribute of a Strawberry type (no resolver,
no arguments, no field extension), a relay node's `id` with Strawberry's default `resolve_id`
and `resolve_typename`, or `__typename`. graphql-core resolves each one like any field: it builds a
resolve info, calls Strawberry's default resolver, checks for an awaitable and completes the
value through the generic dispatch, about ten times the work of reading the attribute.
`PlainFieldsExecution.execute_field` reads such a field directly and coerces it with its type's
own `coerce_output_value`. Anything else, and any plain field whose value is not a clean
answer (null where null is not allowed, a value its scalar refuses), goes the general way,
which reports it exactly as before: reading an attribute twice has no effect.

Schema middleware (an extension with a ``resolve`` hook) must see every field: with one
installed, every field goes the general way.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    get_named_type,
    is_leaf_type,
)
from graphql.pyutils import Path, gather_with_cancel
from strawberry import relay
from strawberry.relay.utils import to_base64
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

MISSING = object()


class Plain(NamedTuple):
    """How to answer a plain field: the attribute to read, the coercion, whether null is allowed.
    ``kind`` is "attribute", "node_id" (a relay node's `id`, from its `NodeID` attribute) or
    "typename" (``__typename``: the parent type's name)."""

    attribute: str
    coerce: Any
    nullable: bool
    kind: str = "attribute"


TYPENAME = Plain("__typename", None, False, "typename")
NODE_ID_RESOLVER = relay.Node._id.__func__  # Strawberry's resolver of a node's `id`


def plain_field(field: GraphQLField) -> Plain | None:
    """How to read ``field`` directly, or None when it must be resolved."""
    definition = field.extensions.get("strawberry-definition")
    named = get_named_type(field.type)
    if not isinstance(definition, StrawberryField) or not is_leaf_type(named) or field.args:
        return None
    nullable = not isinstance(field.type, GraphQLNonNull)
    inner = field.type if nullable else field.type.of_type  # type: ignore[union-attr]
    if inner is not named:
        return None  # a list of leaves: the general way
    coerce = named.coerce_output_value
    if getattr(field.resolve, "_is_default", False) and definition.python_name:
        return Plain(definition.python_name, coerce, nullable)
    resolver = definition.base_resolver
    if (
        resolver is not None
        and getattr(resolver.wrapped_func, "__func__", MISSING) is NODE_ID_RESOLVER
        and not definition.extensions
    ):
        return Plain("", coerce, nullable, "node_id")
    return None


DEFAULT_RESOLVE_ID = relay.Node.resolve_id.__func__  # type: ignore[attr-defined]
DEFAULT_RESOLVE_TYPENAME = relay.Node.resolve_typename.__func__  # type: ignore[attr-defined]
NODE_ID_ATTRIBUTES: dict[type, str | None] = {}


def node_id_attribute(cls: type) -> str | None:
    """The `NodeID` attribute of a relay node class whose id and type name Strawberry resolves
    by default, or None (then its `id` is resolved the general way)."""
    if cls not in NODE_ID_ATTRIBUTES:
        default = (
            issubclass(cls, relay.Node)
            and getattr(cls.resolve_id, "__func__", None) is DEFAULT_RESOLVE_ID
            and getattr(cls.resolve_typename, "__func__", None) is DEFAULT_RESOLVE_TYPENAME
        )
        NODE_ID_ATTRIBUTES[cls] = cls.resolve_id_attr() if default else None  # type: ignore[attr-defined]
    return NODE_ID_ATTRIBUTES[cls]


def read(plain: Plain, parent_type: GraphQLObjectType, source: Any) -> Any:
    """The plain field's answer, or MISSING when it must go the general way."""
    if plain.kind == "typename":
        return parent_type.name
    if plain.kind == "node_id":
        attribute = node_id_attribute(type(source))
        if attribute is None:
            return MISSING
        value = getattr(source, attribute, None)
        if value is None:
            return MISSING
        value = to_base64(parent_type.name, str(value))
    else:
        value = getattr(source, plain.attribute, MISSING)
        if value is None:
            return None if plain.nullable else MISSING
        if value is MISSING:
            return MISSING
    try:
        coerced = plain.coerce(value)
    except Exception:  # the general way reports it
        return MISSING
    return MISSING if coerced is Undefined or coerced is None else coerced


# Per schema, by the field's id (GraphQLField compares by value and has no hash; a schema's
# fields live as long as it does).
PLAIN: WeakKeyDictionary[GraphQLSchema, dict[int, Plain | None]] = WeakKeyDictionary()

Step = tuple[str, Plain | None, Any]  # response key, how to read it directly, its field nodes


class PlainFieldsExecution(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, reading plain fields directly (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per selection set of this operation (graphql-core memoises the grouped field sets,
        # so one per selection set and parent type; each kept alive with its steps).
        self.steps: dict[tuple[str, int], tuple[Any, list[Step]]] = {}
        known = PLAIN.get(self.schema)
        self.plain = known if known is not None else PLAIN.setdefault(self.schema, {})
        middleware = self.middleware_manager
        self.direct = not (middleware and middleware.middlewares)

    def steps_of(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> list[Step]:
        key = (parent_type.name, id(grouped_field_set))
        found = self.steps.get(key)
        if found is not None:
            return found[1]
        steps: list[Step] = []
        for name, details in grouped_field_set.items():
            field_name = details[0].node.name.value
            field = parent_type.fields.get(field_name)
            plain = TYPENAME if field_name == "__typename" and self.direct else None
            if field is not None and self.direct:
                if id(field) not in self.plain:
                    self.plain[id(field)] = plain_field(field)
                plain = self.plain[id(field)]
            steps.append((name, plain, details))
        self.steps[key] = (grouped_field_set, steps)
        return steps

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's `execute_fields`, with plain fields read directly."""
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for name, plain, details in self.steps_of(parent_type, grouped_field_set):
                if plain is not None:
                    answer = read(plain, parent_type, source_value)
                    if answer is not MISSING:
                        results[name] = answer
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    details,
                    Path(path, name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(name)
        except Exception:
            if awaitable_fields:  # settle the other fields' work, which may fail too
                self.settle_in_background([results[f] for f in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                results[awaitable_fields[0]] = await results[awaitable_fields[0]]
            else:
                awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()
