"""The arguments of queries and subscriptions checked once, before anything runs: text no
database can store (NUL characters, lone surrogates) and days or times at the ends of the
calendar are refused as `invalid`, and a lookup's global id naming a row beyond BIGINT (which
no database holds) as `not_found`, each naming the argument at fault (`filter.actionTypes[1]`,
`to`, `agentId`): no resolver meets them, so none answers the masked "Unexpected error.".
`node(id:)` answers null for such an id, as for any unknown one. Mutations check their input
with the same rules in `graphql_schema.inputs.attempt`, answering in the payload's user errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_named_type,
)
from graphql.execution import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.relay.utils import from_base64

from backend.errors import DomainError, ErrorCode

# Days and times a client may name: wide enough for any history or plan, far enough from the
# ends of Python's calendar (years 1 and 9999) that a day's arithmetic or a zone never overflows.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2999, 12, 31)
MAX_OFFSET = dt.timedelta(hours=14)  # the widest UTC offset in use (Kiribati, +14:00)
MAX_ROW_ID = 2**63 - 1  # ids are BIGINT
Problem = tuple[str, str, str]  # code, field, message


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (PostgreSQL refuses NUL; UTF-8 has no lone
    surrogates), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (it holds a lone surrogate)"
    return None


def day_problem(day: dt.date) -> str | None:
    if not FIRST_DAY <= day <= LAST_DAY:
        return f"must be a day from {FIRST_DAY} to {LAST_DAY}"
    return None


def time_problem(moment: dt.datetime) -> str | None:
    offset = moment.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        return "must have a UTC offset between -14:00 and +14:00"
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        return f"must be a time from {FIRST_DAY} to {LAST_DAY}"
    return None


def value_problem(value: Any) -> str | None:
    """Why an argument's value (text, a day or a time, parsed) must not reach a resolver."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, dt.datetime):  # before `date`: a datetime is a date too
        return time_problem(value)
    if isinstance(value, dt.date):
        return day_problem(value)
    return None


def _day_text_problem(value: str) -> str | None:
    try:
        return day_problem(dt.date.fromisoformat(value))
    except ValueError:
        return None  # not a day at all: the scalar itself refuses it


def _time_text_problem(value: str) -> str | None:
    try:
        return time_problem(dt.datetime.fromisoformat(value))
    except ValueError:
        return None  # not a time at all: the scalar itself refuses it


def id_problem(value: str) -> str | None:
    """A global id naming a row beyond BIGINT is not found (other malformed ids are the
    field's to judge: most answer as for an unknown id)."""
    try:
        type_name, node_id = from_base64(value)
        row_id = int(node_id)
    except ValueError:
        return None
    if abs(row_id) > MAX_ROW_ID:
        return f"names no {type_name}"
    return None


SCALAR_CHECKS = {"Date": _day_text_problem, "DateTime": _time_text_problem}


class _Walk:
    """The problems of one operation's arguments, in document order: (field, message)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.seen_fragments: set[str] = set()
        self.root: Any = None

    def selections(self, selection_set: SelectionSetNode | None, parent: Any) -> Iterator[Any]:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                yield from self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                yield from self.selections(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in self.seen_fragments:
                    continue  # its arguments are the same wherever it is spread
                self.seen_fragments.add(name)
                inner = self.schema.get_type(fragment.type_condition.name.value)
                yield from self.selections(fragment.selection_set, inner)

    def field(self, node: FieldNode, parent: Any) -> Iterator[Problem]:
        definition = getattr(parent, "fields", {}).get(node.name.value)
        if definition is None:
            return  # __typename, or a field of an abstract type resolved below
        if parent is self.root and self.root.name == "Mutation":
            # A mutation's input is checked by its own plumbing (graphql_schema.inputs), which
            # answers in the payload's user errors, as every other problem of an input.
            yield from self.selections(node.selection_set, get_named_type(definition.type))
            return
        # A lookup's id beyond BIGINT is not found; `node` answers null for it (as for any
        # unknown id), and filters judge their own ids.
        ids = not (parent is self.root and node.name.value == "node")
        for argument in node.arguments or ():
            argument_type = definition.args.get(argument.name.value)
            if argument_type is not None:
                name = argument.name.value
                yield from self.literal(argument.value, argument_type.type, name, ids)
        yield from self.selections(node.selection_set, get_named_type(definition.type))

    def literal(self, node: ValueNode, kind: Any, path: str, ids: bool) -> Iterator[Problem]:
        if isinstance(node, VariableNode):
            yield from self.value(self.variables.get(node.name.value), kind, path, ids)
            return
        if isinstance(kind, GraphQLNonNull):
            kind = kind.of_type
        if isinstance(kind, GraphQLList):
            items = node.values if isinstance(node, ListValueNode) else (node,)
            for index, item in enumerate(items):
                yield from self.literal(item, kind.of_type, f"{path}[{index}]", ids)
        elif isinstance(kind, GraphQLInputObjectType):
            if isinstance(node, ObjectValueNode):
                for member in node.fields:
                    name = member.name.value
                    if name in kind.fields:
                        yield from self.literal(
                            member.value, kind.fields[name].type, f"{path}.{name}", False
                        )
        elif isinstance(node, StringValueNode):
            yield from self.text(node.value, kind, path, ids)
        elif isinstance(node, ListValueNode):  # a JSON scalar's literal (names are ASCII)
            for child in node.values:
                yield from self.literal(child, kind, path, ids)
        elif isinstance(node, ObjectValueNode):
            for member in node.fields:
                yield from self.literal(member.value, kind, path, ids)

    def value(self, value: Any, kind: Any, path: str, ids: bool) -> Iterator[Problem]:
        """The same checks on a variable's value (JSON, nested at most 64 deep: see the view)."""
        if isinstance(kind, GraphQLNonNull):
            kind = kind.of_type
        if isinstance(kind, GraphQLList):
            items = value if isinstance(value, list) else (value,)
            for index, item in enumerate(items):
                yield from self.value(item, kind.of_type, f"{path}[{index}]", ids)
        elif isinstance(kind, GraphQLInputObjectType):
            if isinstance(value, dict):
                for name, member in value.items():
                    if name in kind.fields:
                        yield from self.value(
                            member, kind.fields[name].type, f"{path}.{name}", False
                        )
        elif isinstance(value, str):
            yield from self.text(value, kind, path, ids)
        elif isinstance(value, dict):  # a JSON scalar: its keys and values are text too
            for key, member in value.items():
                yield from self.text(str(key), kind, path, ids)
                yield from self.value(member, kind, path, ids)
        elif isinstance(value, list):
            for member in value:
                yield from self.value(member, kind, path, ids)

    @staticmethod
    def text(value: str, kind: Any, path: str, ids: bool) -> Iterator[Problem]:
        problem = text_problem(value)
        name = getattr(kind, "name", "")
        if problem is None and (check := SCALAR_CHECKS.get(name)):
            problem = check(value)
        if problem is None and name == "ID" and ids and (unknown := id_problem(value)):
            yield "not_found", path, unknown
        elif problem is not None:
            yield "invalid", path, problem


def argument_problems(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> list[Problem]:
    """(code, field, message) of each argument of ``operation`` that no resolver should meet."""
    walk = _Walk(schema, fragments, variables)
    walk.root = schema.get_root_type(operation.operation)
    return list(walk.selections(operation.selection_set, walk.root))


class ArgumentChecks(SchemaExtension):
    """Refuses an operation whose arguments hold text, times or ids no resolver should meet:
    one error per argument at fault, with its `code` and `field`; nothing runs."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = None
        fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions if document else ():
            if isinstance(definition, FragmentDefinitionNode):
                fragments[definition.name.value] = definition
            elif isinstance(definition, OperationDefinitionNode):
                name = context.operation_name
                if operation is None or (definition.name and definition.name.value == name):
                    operation = definition
        if operation is not None:
            schema = context.schema._schema
            problems = argument_problems(schema, operation, fragments, context.variables or {})
            if problems and operation.operation is OperationType.SUBSCRIPTION:
                # A subscription runs whatever the result says: refused by raising instead,
                # which Strawberry answers as an error (a domain error keeps its code).
                code, field, message = problems[0]
                raise DomainError(ErrorCode(code), f"{field} {message}", field=field)
            if problems:
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"{field} {message}", extensions={"code": code, "field": field}
                        )
                        for code, field, message in problems
                    ],
                )
        yield
