"""Domain errors: expected failures with a machine-readable code and the field at fault.

Database constraint violations are translated here, so a CHECK or UNIQUE failure deep inside a
service reaches the caller as e.g. ``DomainError("invalid", field="confidence")``.
"""

from __future__ import annotations

import re
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


class ErrorCode(StrEnum):
    INVALID = "invalid"
    REQUIRED = "required"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    UNAUTHENTICATED = "unauthenticated"


class DomainError(Exception):
    """An expected failure a client can act on."""

    def __init__(self, code: ErrorCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"DomainError({self.code.value!r}, {self.message!r}, field={self.field!r})"


class NotFoundError(DomainError):
    def __init__(self, what: str, *, field: str | None = "id") -> None:
        super().__init__(ErrorCode.NOT_FOUND, f"{what} not found", field=field)


class PermissionDeniedError(DomainError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(ErrorCode.FORBIDDEN, message, field=field)


_SQLITE_CHECK = re.compile(r"CHECK constraint failed: (?P<name>\w+)")
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<columns>[\w., ]+)")
_SQLITE_NOT_NULL = re.compile(r"NOT NULL constraint failed: \w+\.(?P<column>\w+)")
_SCOPE_COLUMNS = {"organization_id", "agent_id"}


def _field_from_check(name: str) -> str:
    """Check constraints are named ck_<table>_<field>[__<detail>] (see NAMING_CONVENTION)."""
    from backend.database import Base  # local: errors is imported by the models' modules

    for table in sorted(Base.metadata.tables, key=len, reverse=True):
        prefix = f"ck_{table}_"
        if name.startswith(prefix):
            return name.removeprefix(prefix).split("__")[0]
    return name.removeprefix("ck_").split("__")[0]


def constraint_error(exc: IntegrityError) -> DomainError:
    """Translate a constraint violation from SQLite or PostgreSQL into a DomainError."""
    orig = exc.orig
    cause = getattr(orig, "__cause__", None) or orig
    constraint = getattr(cause, "constraint_name", None)
    column = getattr(cause, "column_name", None)
    sqlstate = getattr(cause, "sqlstate", None)
    text = str(orig)
    if sqlstate == "23514" or (constraint and constraint.startswith("ck_")):
        field = _field_from_check(constraint or "")
        return DomainError(ErrorCode.INVALID, f"{field} is out of its allowed range", field=field)
    if sqlstate == "23505" or (constraint and constraint.startswith("uq_")):
        field = _unique_field(constraint or "")
        return DomainError(ErrorCode.CONFLICT, f"{field} is already taken", field=field)
    if sqlstate == "23502" and column:
        return DomainError(ErrorCode.REQUIRED, f"{column} is required", field=column)
    if sqlstate == "23503":
        return DomainError(ErrorCode.NOT_FOUND, "a referenced row does not exist", field=None)
    if match := _SQLITE_CHECK.search(text):
        field = _field_from_check(match["name"])
        return DomainError(ErrorCode.INVALID, f"{field} is out of its allowed range", field=field)
    if match := _SQLITE_UNIQUE.search(text):
        columns = [c.strip().split(".")[-1] for c in match["columns"].split(",")]
        field = next((c for c in reversed(columns) if c not in _SCOPE_COLUMNS), columns[-1])
        return DomainError(ErrorCode.CONFLICT, f"{field} is already taken", field=field)
    if match := _SQLITE_NOT_NULL.search(text):
        return DomainError(
            ErrorCode.REQUIRED, f"{match['column']} is required", field=match["column"]
        )
    if "FOREIGN KEY" in text:
        return DomainError(ErrorCode.NOT_FOUND, "a referenced row does not exist", field=None)
    return DomainError(ErrorCode.INVALID, "the change violates a database constraint")


def _unique_field(constraint: str) -> str:
    from backend.database import Base  # local: errors is imported by the models' modules

    for table in Base.metadata.tables.values():
        for item in table.constraints:
            if item.name == constraint:
                columns = [c.name for c in getattr(item, "columns", [])]
                if columns:
                    return next(
                        (c for c in reversed(columns) if c not in _SCOPE_COLUMNS), columns[-1]
                    )
        for index in table.indexes:
            if index.name == constraint and index.unique:
                columns = [c.name for c in index.columns]
                return next((c for c in reversed(columns) if c not in _SCOPE_COLUMNS), columns[-1])
    return constraint


async def flush(session: AsyncSession) -> None:
    """Flush pending changes, turning a constraint violation into a DomainError.

    The caller's transaction boundary then rolls back: a rejected change changes nothing.
    """
    try:
        await session.flush()
    except IntegrityError as exc:
        raise constraint_error(exc) from exc


class InvalidInput(DomainError):
    """Several problems with one input, each naming its field; nothing was changed."""

    def __init__(self, errors: list[DomainError]) -> None:
        super().__init__(
            errors[0].code if len(errors) == 1 else ErrorCode.INVALID,
            "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors),
            field=errors[0].field if len(errors) == 1 else None,
        )
        self.errors = errors


class Problems:
    """Collects every problem of an input before rejecting it, so a client fixes all at once."""

    def __init__(self, prefix: str = "") -> None:
        self.errors: list[DomainError] = []
        self.prefix = prefix

    def add(self, field: str, message: str, code: ErrorCode = ErrorCode.INVALID) -> None:
        self.errors.append(DomainError(code, message, field=f"{self.prefix}{field}"))

    def require(self, condition: bool, field: str, message: str) -> bool:
        if not condition:
            self.add(field, message)
        return condition

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)
