"""Rows by id within what a viewer may see: the one lookup behind every GraphQL loader and
`node(id:)`. A row of another organisation, or out of scope, is simply absent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Viewer, scoped

M = TypeVar("M")


async def rows_by_ids(
    session: AsyncSession, viewer: Viewer, model: type[M], ids: Iterable[int]
) -> dict[int, M]:
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    statement = scoped(select(model).where(model.id.in_(wanted)), model, viewer)  # type: ignore[attr-defined]
    return {row.id: row for row in await session.scalars(statement)}  # type: ignore[attr-defined]


async def rows_by_column(
    session: AsyncSession, viewer: Viewer, model: type[M], column: str, keys: Sequence[Any],
    *, order_by: str = "id",
) -> dict[Any, list[M]]:  # fmt: skip
    """Rows grouped by the value of ``column`` (e.g. outcomes by action id), in scope."""
    wanted = sorted(set(keys))
    grouped: dict[Any, list[M]] = {k: [] for k in wanted}
    if not wanted:
        return grouped
    attribute = getattr(model, column)
    statement = scoped(
        select(model).where(attribute.in_(wanted)).order_by(getattr(model, order_by)), model, viewer
    )
    for row in await session.scalars(statement):
        grouped[getattr(row, column)].append(row)
    return grouped
