"""Keyset pagination: pages of a scoped query in a stable order, with opaque cursors.

A cursor encodes the sort key of the last row seen (never an offset), so pages stay correct
while rows are added, and each page costs an index range scan however deep it is.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Row, Select, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import DomainError, ErrorCode

T = TypeVar("T")
MAX_PAGE = 100
DEFAULT_PAGE = 20


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    keys: list[tuple[Any, ...]]  # each item's sort key, what its cursor encodes
    has_next: bool
    has_previous: bool
    total: int | None

    def cursor(self, index: int) -> str:
        """The opaque cursor of the item at ``index`` (encoded when asked: a page whose
        cursors are not selected encodes only its first and last)."""
        return _encode(self.keys[index])


def _encode(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


MAX_CURSOR = 1024  # characters: a sort key of a few columns encodes in far fewer
MAX_KEY_INT = 2**63 - 1  # sort keys are BIGINT at most: a larger number names no row


def _decode(cursor: str, columns: Sequence[Any]) -> list[Any]:
    try:
        if len(cursor) > MAX_CURSOR or not cursor.isascii():
            raise ValueError("not a cursor we issue")
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode())
        if text[:1] != b"[" or text[1:2] == b"[":  # a flat list of keys, never nested
            raise ValueError("not a list of keys")
        values = json.loads(text)
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError
        return [_key_value(v, c) for v, c in zip(values, columns, strict=True)]
    except (ValueError, TypeError, NotImplementedError, OverflowError, RecursionError):
        raise DomainError(
            ErrorCode.INVALID, "is not a cursor of this list", field="after"
        ) from None


def _key_value(value: Any, column: Any) -> Any:
    """One decoded sort-key value, of its column's type (a forged cursor fails here, not in SQL:
    numbers beyond BIGINT, times beyond the calendar once in UTC, text no database stores)."""
    # A TypeDecorator (UTCDateTime) reports `object`: ask the type it decorates.
    kind = getattr(column.type, "impl_instance", column.type).python_type
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("not text we store")
        value.encode("utf-8")  # UnicodeEncodeError (a ValueError) on a lone surrogate
    if issubclass(kind, dt.datetime):
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed.astimezone(dt.UTC)  # OverflowError past the calendar's ends
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}")
    if isinstance(value, int) and not -MAX_KEY_INT <= value <= MAX_KEY_INT:
        raise ValueError("beyond BIGINT")
    return value


def first_entity(row: Row[Any]) -> Any:
    """The item of a row of ``select(Model)``: the ORM object."""
    return row[0]


def check_first(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 1 <= first <= MAX_PAGE:
        raise DomainError(ErrorCode.INVALID, f"must be between 1 and {MAX_PAGE}", field="first")
    return first


async def paginate(
    session: AsyncSession,
    statement: Select,
    *,
    order: Sequence[Any],
    first: int | None,
    after: str | None,
    count: bool = True,
    ascending: bool = False,
    item: Callable[[Row[Any]], T] = first_entity,
) -> Page[T]:
    """Newest first by ``order`` (columns, the last one unique, e.g. (occurred_at, id)), or
    oldest first with ``ascending`` (work queues); the page after ``after``; ``total`` counts
    the whole (scoped, filtered) list when asked (a second statement: ask only when needed).

    ``item`` maps each result row (the statement's columns, then the sort key) to a page item;
    by default the row's first entity, for ``select(Model)``. Lists on a hot path select
    columns and map them to named tuples, executed without the ORM (no identity map, no
    ORM compile state)."""
    size = check_first(first)
    start = _decode(after, order) if after is not None else None  # bad input: no query at all
    total = None
    if count:
        total = int(
            await session.scalar(
                select(func.count()).select_from(statement.order_by(None).subquery())
            )
            or 0
        )
    page = statement
    if start is not None:
        # Bound with the columns' own types, so timestamps are stored-format on SQLite too.
        bound = tuple_(*(literal(v, c.type) for v, c in zip(start, order, strict=True)))
        key = tuple_(*order)
        page = page.where(key > bound if ascending else key < bound)
    page = page.order_by(*(c.asc() if ascending else c.desc() for c in order)).limit(size + 1)
    keyed = page.add_columns(*(c.label(f"_k{i}") for i, c in enumerate(order)))
    if item is first_entity:  # ORM entities: through the session
        rows = list((await session.execute(keyed)).all())
    else:  # columns: Core execution on the session's connection, without the ORM's machinery
        rows = list((await (await session.connection()).execute(keyed)).all())
    has_next = len(rows) > size
    rows = rows[:size]
    width = len(order)
    return Page(
        items=[item(row) for row in rows],
        keys=[tuple(row[-width:]) for row in rows],
        has_next=has_next,
        has_previous=after is not None,
        total=total,
    )
