"""Bulk inserts for the demo seed: chunked executemany, ids back in row order, rows counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.database import Base

CHUNK_ROWS = 5000


def _table_of(model: type[Base]) -> Table:
    """The model's ``Table`` (declarative mapping types ``__table__`` as any ``FromClause``)."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a Table")
    return table


class BulkWriter:
    """Inserts lists of row dicts through one session and counts the rows per table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.counts: Counter[str] = Counter()

    async def insert(self, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` (Core executemany: one multi-row INSERT per page of rows)."""
        table = _table_of(model)
        for start in range(0, len(rows), CHUNK_ROWS):
            await self.session.execute(insert(table), list(rows[start : start + CHUNK_ROWS]))
        self.counts[table.name] += len(rows)

    async def insert_returning_ids(
        self, model: type[Base], rows: Sequence[dict[str, Any]], *, key: tuple[str, ...]
    ) -> list[int]:
        """Insert ``rows`` and return the ids the database assigned, in the order of ``rows``.

        ``key`` names columns that are unique among ``rows``: ids are matched to rows through
        them. (SQLAlchemy's ``sort_by_parameter_order`` does the same but, on SQLite, inserts
        one row per statement and is ten times slower.)
        """
        table = _table_of(model)
        statement = insert(table).returning(table.c.id, *(table.c[name] for name in key))
        ids: list[int] = []
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = list(rows[start : start + CHUNK_ROWS])
            result = await self.session.execute(statement, chunk)
            by_key = {tuple(row[1:]): row[0] for row in result.all()}
            if len(by_key) != len(chunk):
                raise ValueError(f"key {key} is not unique among the rows for {table.name}")
            ids.extend(by_key[tuple(row[name] for name in key)] for row in chunk)
        self.counts[table.name] += len(rows)
        return ids
