"""The executor: graphql-core's, with plain fields read straight off their objects.

Most fields of a page need no resolver call. graphql-core resolves each one like any field: it
builds a resolve info, calls Strawberry's resolver wrapper (for a field with a resolver:
Strawberry's `Info`, its arguments, its extension chain), checks for an awaitable and completes
the value through the generic dispatch, about ten times the work of reading an attribute.
`PlainFieldsExecution` reads these fields directly:

- a *leaf*: a scalar or enum attribute of a Strawberry type (no resolver, no arguments, no
  field extension), a relay node's `id` with Strawberry's default `resolve_id` and
  `resolve_typename`, and `__typename`; coerced with its type's own `coerce_output_value`.
  A leaf whose value is not a clean answer (null where null is not allowed, a value its
  scalar refuses) goes the general way, which reports it exactly as before (reading an
  attribute twice has no effect);
- a *value*: any other attribute without a resolver (an object, a list): read, then completed
  by graphql-core (`complete_value`, which checks nulls and reports errors as usual);
- a *prefetched* field: a resolver field that declares, in its metadata under `PREFETCHED`, the
  attribute that holds its answer when it was read ahead (a page's outcomes): when that
  attribute is not None it is the answer, completed by graphql-core, and the resolver is not
  called; when it is None the resolver runs. Its resolver must answer the same way.

Completing an object its type accepts skips graphql-core's generic dispatch (`complete_value`
goes straight to its fields); nulls, lists, leaves, abstract types and refusals are dispatched
as before.

Schema middleware (an extension with a ``resolve`` hook) must see every field: with one
installed, every field goes the general way.
"""

from __future__ import annotations

from collections.abc import Awaitable
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
# Metadata key of a resolver field: the attribute holding its answer when read ahead.
PREFETCHED = "prefetched"
LEAF, NODE_ID, TYPENAME_KIND, VALUE, PREFETCHED_KIND = range(5)


class Plain(NamedTuple):
    """How to answer a field without calling its resolver: what ``kind`` of read (see the
    module's docstring), the attribute read, the leaf's coercion, whether null is allowed."""

    kind: int
    attribute: str
    coerce: Any = None
    nullable: bool = True


TYPENAME = Plain(TYPENAME_KIND, "__typename")
NODE_ID_RESOLVER = relay.Node._id.__func__  # Strawberry's resolver of a node's `id`


def plain_field(field: GraphQLField) -> Plain | None:
    """How to read ``field`` directly, or None when it must be resolved."""
    definition = field.extensions.get("strawberry-definition")
    if not isinstance(definition, StrawberryField) or field.args or definition.extensions:
        return None
    basic = bool(getattr(field.resolve, "_is_default", False) and definition.python_name)
    resolver = definition.base_resolver
    named = get_named_type(field.type)
    nullable = not isinstance(field.type, GraphQLNonNull)
    inner = field.type if nullable else field.type.of_type  # type: ignore[union-attr]
    if inner is named and is_leaf_type(named):
        coerce = named.coerce_output_value
        if basic:
            return Plain(LEAF, definition.python_name, coerce, nullable)
        if resolver is not None and (
            getattr(resolver.wrapped_func, "__func__", MISSING) is NODE_ID_RESOLVER
        ):
            return Plain(NODE_ID, "", coerce, nullable)
        return None
    if basic:
        return Plain(VALUE, definition.python_name)
    prefetched = definition.metadata.get(PREFETCHED)
    if resolver is not None and isinstance(prefetched, str):
        return Plain(PREFETCHED_KIND, prefetched)
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


def read_leaf(plain: Plain, parent_type: GraphQLObjectType, source: Any) -> Any:
    """A leaf's answer, or MISSING when it must go the general way."""
    if plain.kind == TYPENAME_KIND:
        return parent_type.name
    if plain.kind == NODE_ID:
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

# Response key, the field (None for `__typename`), how to read it directly, its field nodes.
Step = tuple[str, GraphQLField | None, Plain | None, Any]


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
            steps.append((name, field, plain, details))
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
            for name, field, plain, details in self.steps_of(parent_type, grouped_field_set):
                if plain is not None and plain.kind < VALUE:
                    answer = read_leaf(plain, parent_type, source_value)
                    if answer is not MISSING:
                        results[name] = answer
                        continue
                field_path = Path(path, name, parent_type.name)
                value = MISSING
                if plain is not None and plain.kind >= VALUE:
                    value = getattr(source_value, plain.attribute, MISSING)
                    if (plain.kind == PREFETCHED_KIND and value is None) or is_awaitable(value):
                        value = MISSING
                if value is MISSING:
                    result = self.execute_field(
                        parent_type, source_value, details, field_path, position_context
                    )
                else:
                    result = self.complete_read(
                        parent_type, field, details, field_path, value, position_context
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

    def complete_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's `complete_value`, with the common case of a page first: an object
        (non-null or not) that its type accepts goes straight to its fields, without the
        generic dispatch (nulls, lists, leaves, abstract types and refusals go that way)."""
        inner = return_type.of_type if type(return_type) is GraphQLNonNull else return_type
        if (
            type(inner) is GraphQLObjectType
            and result is not None
            and result is not Undefined
            and not isinstance(result, Exception)
            and (inner.is_type_of is None or inner.is_type_of(result, info) is True)
        ):
            return self.collect_and_execute_subfields(
                inner, field_details_list, path, result, position_context
            )
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def complete_read(
        self,
        parent_type: GraphQLObjectType,
        field: Any,
        details: Any,
        path: Path,
        value: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's `execute_field` for a value read directly: completed, with errors
        handled as that field's."""
        return_type = field.type
        info = self.build_resolve_info(field, [d.node for d in details], parent_type, path)
        try:
            completed = self.complete_value(
                return_type, details, info, path, value, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, path)
            return None
        if not self.is_awaitable(completed):
            return completed

        async def await_completed(completed: Awaitable[Any]) -> Any:
            try:
                return await completed
            except Exception as raw_error:
                self.handle_field_error(raw_error, return_type, details, path)
                return None

        return await_completed(completed)
