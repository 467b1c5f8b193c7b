"""Mutation plumbing shared by every domain: global ids in inputs, and running a use case so
that an expected failure comes back as the payload's user errors (and changes nothing).

User errors name the input field at fault by its path inside the mutation's `input` argument,
in the schema's own (camelCase) names: `confidence`, `cost.amount`, `signals[2].kind`,
`criteria[0].rating`. Problems of the whole input (e.g. "name one target") have no field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from strawberry import relay
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from backend.errors import DomainError, ErrorCode, InvalidInput, NotFoundError, constraint_error
from backend.viewer import Viewer
from graphql_schema.arguments import text_problem, value_problem
from graphql_schema.errors import UserError, UserErrorCode, user_errors

T = TypeVar("T")
MAX_ROW_ID = 2**63 - 1  # ids are BIGINT: a larger number names no row


def with_error_paths(description: str, example: str) -> str:
    """An input's description, ending with how its user errors name fields."""
    return (
        f"{description} User errors name the field at fault by its path inside this input,"
        f" e.g. `{example}`."
    )


def decode_id(value: str, type_name: str, field: str) -> int:
    """The row id inside a global id of ``type_name``. Another type's id is unknown here
    (`not_found`, as a foreign id would be); something that is no global id is `invalid`."""
    try:
        global_id = relay.GlobalID.from_id(value)
    except ValueError:
        raise DomainError(ErrorCode.INVALID, f"{value!r} is not a global id", field=field) from None
    if global_id.type_name != type_name:
        raise NotFoundError(type_name.lower(), field=field)
    try:
        row_id = int(global_id.node_id)
    except ValueError:
        raise NotFoundError(type_name.lower(), field=field) from None
    if not 0 < row_id <= MAX_ROW_ID:
        raise NotFoundError(type_name.lower(), field=field)
    return row_id


def _json_problem(value: Any) -> str | None:
    """The first problem of a JSON value's text (its keys and strings), or None."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if problem := text_problem(item):
                return problem
        elif isinstance(item, dict):
            pending.extend(str(k) for k in item)
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return None


def _unstorable(value: Any, path: str) -> Iterator[DomainError]:
    """Fields no resolver should meet, by input path (graphql_schema.arguments' rules): text
    with NUL characters (PostgreSQL stores none) or lone surrogates (no UTF-8), days and times
    at the ends of the calendar; a JSON value is reported as a whole."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            name = to_camel_case(item.name)
            yield from _unstorable(getattr(value, item.name), f"{path}.{name}".lstrip("."))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _unstorable(item, f"{path}[{i}]")
    elif problem := (_json_problem(value) if isinstance(value, dict) else value_problem(value)):
        yield DomainError(ErrorCode.INVALID, problem, field=path or None)


async def attempt(
    info: Info, given: Any, use_case: Callable[[Viewer], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Run ``use_case`` for the caller on the ``given`` input: its result, or the user errors of
    an expected failure. Anything else is a bug and propagates (masked for the client, logged
    with a request id)."""
    try:
        viewer = info.context.require_viewer()
        if problems := list(_unstorable(given, "")):
            raise InvalidInput(problems)
        return await use_case(viewer), []
    except DomainError as error:
        return None, user_errors(error)
    except StaleDataError:
        message = "it changed meanwhile; read it again and retry"
        return None, [UserError(code=UserErrorCode.CONFLICT, field=None, message=message)]
    except IntegrityError as error:  # a constraint the database kept against a concurrent write
        return None, user_errors(constraint_error(error))
