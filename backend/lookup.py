"""Rows by id within what a viewer may see: the one lookup behind every GraphQL loader and
`node(id:)`. A row of another organisation, or out of scope, is simply absent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.viewer import Viewer, ViewerRole, scoped

M = TypeVar("M")
# What an API key needs to read rows of these tables (people read by role; the agent's own key
# reads the actions and outcomes it wrote). The lists enforce the same rule.
READ_SCOPES = {
    "agent_actions": "read:actions",
    "outcomes": "read:outcomes",
    "feedback": "read:feedback",
    "feedback_prompts": "read:feedback",
}
AGENT_OWN = frozenset({"agent_actions", "outcomes"})


def may_read(viewer: Viewer, model: type) -> bool:
    table = getattr(model, "__tablename__", "")
    scope = READ_SCOPES.get(table)
    if scope is None or viewer.api_client_id is None:
        return True
    if viewer.role is ViewerRole.AGENT and table in AGENT_OWN:
        return True
    return viewer.has_scope(scope)


async def rows_by_ids(
    session: AsyncSession, viewer: Viewer, model: type[M], ids: Iterable[int]
) -> dict[int, M]:
    wanted = sorted({int(i) for i in ids})
    if not wanted or not may_read(viewer, model):
        return {}
    statement = scoped(select(model).where(model.id.in_(wanted)), model, viewer)  # type: ignore[attr-defined]
    return {row.id: row for row in await session.scalars(statement)}  # type: ignore[attr-defined]


async def rows_by_column(
    session: AsyncSession,
    viewer: Viewer,
    model: type[M],
    column: str,
    keys: Sequence[Any],
    *,
    order_by: str = "id",
) -> dict[Any, list[M]]:
    """Rows grouped by the value of ``column`` (e.g. outcomes by action id), in scope."""
    wanted = sorted(set(keys))
    grouped: dict[Any, list[M]] = {k: [] for k in wanted}
    if not wanted or not may_read(viewer, model):
        return grouped
    attribute = getattr(model, column)
    statement = scoped(
        select(model).where(attribute.in_(wanted)).order_by(getattr(model, order_by)), model, viewer
    )
    for row in await session.scalars(statement):
        grouped[getattr(row, column)].append(row)
    return grouped
