"""Query cost, budgets and rate limits, per principal (API key, user, or client address).

Cost, as GitHub and Shopify count it: every object field costs 1 (a few heavy ones more:
``FIELD_COSTS``), a connection (or a list taking `first`) multiplies what is under it by
`first` (when absent, the field's own default, e.g. 50 for a thread's messages; else 20),
scalars are free, and each mutation field costs 10.
Before execution the *requested* cost is charged to the principal's budget (a token bucket
refilling at a steady rate); when it does not fit, nothing is executed. After execution the
*actual* cost (connections counted by the edges really returned) is computed and the difference
refunded. Every response carries `extensions.cost`. The buckets are shared by every process
through Redis when the deployment has it (graphql_schema/buckets.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution import ExecutionResult
from strawberry.extensions import SchemaExtension

from backend.pagination import DEFAULT_PAGE
from graphql_schema.buckets import Buckets, LocalStore, RedisStore, Store

MUTATION_COST = 10
# Fields whose answer costs the server far more than one object: a report preview reads the
# dashboards and draws its charts (about a second of CPU), so it weighs 50.
FIELD_COSTS: dict[tuple[str, str], int] = {("Query", "reportPreview"): 50}


def _weight(parent: Any, name: str) -> int:
    return FIELD_COSTS.get((getattr(parent, "name", ""), name), 1)


def bucket_store(state: Any) -> Store:
    """The store of this process's app state: Redis when the deployment has it (every process
    then shares each principal's budget), else this process's memory."""
    store = state.caches.get("graphql_buckets")
    if store is None:
        client = state.broker.client
        prefix = state.settings.redis_channel_prefix
        store = RedisStore(client, prefix=prefix) if client is not None else LocalStore()
        state.caches["graphql_buckets"] = store
    return store


def _fields(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> Iterator[FieldNode]:
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            yield from _fields(fragments[selection.name.value].selection_set, fragments)


def _first(node: FieldNode, variables: Mapping[str, Any]) -> int | None:
    """The `first` the query gives, None when it gives none (the field's default applies)."""
    for argument in node.arguments or ():
        if argument.name.value == "first":
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(0, int(value.value))
            if isinstance(value, VariableNode):
                given = variables.get(value.name.value)
                # A negative `first` is refused by the field itself; it never earns budget.
                return max(0, given) if isinstance(given, int) else None
    return None


def _field(parent: Any, name: str, schema: GraphQLSchema) -> GraphQLField | None:
    if is_abstract_type(parent):
        for possible in schema.get_possible_types(parent):
            if name in possible.fields:
                return possible.fields[name]
        return None
    return getattr(parent, "fields", {}).get(name)


def _field_type(parent: Any, name: str, schema: GraphQLSchema) -> Any:
    found = _field(parent, name, schema)
    return found.type if found is not None else None


def _default_first(field: GraphQLField | None) -> int:
    """The page size a field gives when `first` is not given: its declared default."""
    argument = field.args.get("first") if field is not None else None
    default = argument.default_value if argument is not None else None
    return default if isinstance(default, int) else DEFAULT_PAGE


def _is_connection(node: FieldNode, field: GraphQLField | None) -> bool:
    if field is None:
        return False
    named = get_named_type(field.type)
    return (
        "first" in field.args
        or any(a.name.value == "first" for a in node.arguments or ())
        or (isinstance(named, GraphQLObjectType) and "pageInfo" in named.fields)
    )


def requested_cost(
    selection_set: SelectionSetNode | None,
    parent: Any,
    schema: GraphQLSchema,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    multiplier: int = 1,
) -> int:
    total = 0
    for node in _fields(selection_set, fragments):
        if node.name.value.startswith("__"):
            continue
        field = _field(parent, node.name.value, schema)
        field_type = field.type if field is not None else None
        if field_type is None or is_leaf_type(get_named_type(field_type)):
            continue
        size = 1
        if _is_connection(node, field):
            size = _first(node, variables) or _default_first(field)
        total += multiplier * _weight(parent, node.name.value) + requested_cost(
            node.selection_set,
            get_named_type(field_type),
            schema,
            fragments,
            variables,
            multiplier * size,
        )
    return total


def actual_cost(
    selection_set: SelectionSetNode | None,
    parent: Any,
    schema: GraphQLSchema,
    fragments: Mapping[str, FragmentDefinitionNode],
    data: Any,
) -> int:
    """What the result ``data`` really cost: 1 per object returned, each connection counted by
    the edges it holds. Which fields hold objects is worked out once per selection set, not
    once per item of every list."""
    plans: dict[tuple[int, str], list[tuple[str, int, SelectionSetNode | None, Any]]] = {}

    def plan(selection: SelectionSetNode | None, parent: Any) -> list[tuple[str, int, Any, Any]]:
        key = (id(selection), parent.name)
        found = plans.get(key)
        if found is None:
            found = plans[key] = []
            for node in _fields(selection, fragments):
                name = node.alias.value if node.alias else node.name.value
                field_type = _field_type(parent, node.name.value, schema)
                if name.startswith("__") or field_type is None:
                    continue
                named = get_named_type(field_type)
                if not is_leaf_type(named):
                    weight = _weight(parent, node.name.value)
                    found.append((name, weight, node.selection_set, named))
        return found

    def walk(selection: SelectionSetNode | None, parent: Any, value: Any) -> int:
        if not isinstance(value, dict):  # answers are plain dicts (a type check, not an ABC)
            return 0
        total = 0
        for name, weight, child, child_type in plan(selection, parent):
            held = value.get(name)
            if held is None:
                continue
            total += weight  # the field itself; what it holds is counted item by item below
            for item in held if isinstance(held, list) else (held,):
                total += walk(child, child_type, item)
        return total

    return walk(selection_set, parent, data)


class CostLimits(SchemaExtension):
    """Charges each operation's cost to its principal's budget; rate-limits requests."""

    def __init__(self, *, budgets: Buckets, requests: Buckets) -> None:
        self.budgets = budgets
        self.requests = requests
        self.report: dict[str, Any] | None = None

    def _operation(self) -> tuple[OperationDefinitionNode | None, dict[str, Any]]:
        document = self.execution_context.graphql_document
        fragments = {}
        operation = None
        for definition in document.definitions if document else ():
            if isinstance(definition, FragmentDefinitionNode):
                fragments[definition.name.value] = definition
            elif isinstance(definition, OperationDefinitionNode):
                name = self.execution_context.operation_name
                if operation is None or (definition.name and definition.name.value == name):
                    operation = definition
        return operation, fragments

    def _refuse(self, message: str, code: str) -> None:
        self.execution_context.result = ExecutionResult(
            data=None, errors=[GraphQLError(message, extensions={"code": code})]
        )

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        principal = context.principal
        store = bucket_store(context.state)
        schema = self.execution_context.schema._schema
        operation, fragments = self._operation()
        allowed, _ = await self.requests.take(store, principal, 1)
        if not allowed:
            per_minute = round(self.requests.capacity)
            self._refuse(f"rate limit exceeded: {per_minute} requests per minute", "rate_limited")
            yield
            return
        root = {
            OperationType.MUTATION: schema.mutation_type,
            OperationType.SUBSCRIPTION: schema.subscription_type,
        }.get(operation.operation if operation else OperationType.QUERY, schema.query_type)
        variables = self.execution_context.variables or {}
        cost = requested_cost(
            operation.selection_set if operation else None, root, schema, fragments, variables
        )
        if operation is not None and operation.operation is OperationType.MUTATION:
            cost += MUTATION_COST * sum(1 for _ in _fields(operation.selection_set, fragments))
        budget = self.budgets
        self.report = {
            "requestedQueryCost": cost,
            "maximumAvailable": budget.capacity,
            "restoreRate": budget.refill_per_second,
        }
        taken, left = (False, 0.0)
        if cost <= budget.capacity:
            taken, left = await budget.take(store, principal, cost)
        if not taken:
            available = int(
                left if cost <= budget.capacity else await budget.available(store, principal)
            )
            self.report.update(actualQueryCost=0, currentlyAvailable=available)
            self._refuse(
                f"query cost {cost} exceeds the available budget {available} "
                f"(maximum {int(budget.capacity)}, restored at {budget.refill_per_second:g}/s)",
                "cost_exceeded",
            )
            yield
            return
        yield
        result = self.execution_context.result
        actual = cost
        if operation is not None and operation.operation is OperationType.QUERY and result:
            actual = min(
                cost,
                actual_cost(
                    operation.selection_set, root, schema, fragments, getattr(result, "data", None)
                ),
            )
            if actual < cost:
                left = await budget.give_back(store, principal, cost - actual)
        self.report.update(actualQueryCost=actual, currentlyAvailable=int(left))

    def get_results(self) -> dict[str, Any]:
        return {"cost": self.report} if self.report else {}
