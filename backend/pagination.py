"""Keyset pagination: pages of a scoped query in a stable order, with opaque cursors.

A cursor encodes the sort key of the last row seen (never an offset), so pages stay correct
while rows are added, and each page costs an index range scan however deep it is.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import DomainError, ErrorCode

T = TypeVar("T")
MAX_PAGE = 100
DEFAULT_PAGE = 20


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    total: int | None


def _encode(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, columns: Sequence[Any]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError
        return [
            dt.datetime.fromisoformat(v) if isinstance(c.type.python_type, type)
            and issubclass(c.type.python_type, dt.datetime) else v
            for v, c in zip(values, columns, strict=True)
        ]  # fmt: skip
    except (ValueError, TypeError, NotImplementedError):
        raise DomainError(
            ErrorCode.INVALID, "is not a cursor of this list", field="after"
        ) from None


def check_first(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 1 <= first <= MAX_PAGE:
        raise DomainError(ErrorCode.INVALID, f"must be between 1 and {MAX_PAGE}", field="first")
    return first


async def paginate(
    session: AsyncSession,
    statement: Select[Any],
    *,
    order: Sequence[Any],
    first: int | None,
    after: str | None,
    count: bool = True,
) -> Page[Any]:
    """Newest first by ``order`` (columns, the last one unique, e.g. (occurred_at, id)); the
    page after ``after``; ``total`` counts the whole (scoped, filtered) list when asked."""
    size = check_first(first)
    total = None
    if count:
        total = int(await session.scalar(
            select(func.count()).select_from(statement.order_by(None).subquery())
        ) or 0)  # fmt: skip
    page = statement
    if after is not None:
        page = page.where(tuple_(*order) < tuple_(*_decode(after, order)))
    page = page.order_by(*(c.desc() for c in order)).limit(size + 1)
    keyed = page.add_columns(*(c.label(f"_k{i}") for i, c in enumerate(order)))
    rows = (await session.execute(keyed)).all()
    has_next = len(rows) > size
    rows = rows[:size]
    width = len(order)
    return Page(
        items=[row[0] for row in rows],
        cursors=[_encode(list(row[-width:])) for row in rows],
        has_next=has_next,
        has_previous=after is not None,
        total=total,
    )
