"""Queries over actions: the viewer's actions, newest first, one keyset page at a time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.pagination import Page, paginate
from backend.viewer import Viewer, ViewerRole, scoped

ACTION_ORDER = (AgentAction.occurred_at, AgentAction.id)


@dataclass(frozen=True)
class ActionFilter:
    """Conditions that must all hold; None means "any". An empty tuple matches nothing."""

    agent_id: int | None = None
    action_types: tuple[str, ...] | None = None
    occurred_from: dt.datetime | None = None  # inclusive
    occurred_to: dt.datetime | None = None  # exclusive
    critical: bool | None = None
    decision: str | None = None


def require_action_reader(viewer: Viewer) -> None:
    """People read by role; the agent's key reads its own actions (it wrote them); any other
    key needs `read:actions`."""
    if viewer.role is not ViewerRole.AGENT:
        viewer.require_scope("read:actions")


async def list_actions(
    session: AsyncSession,
    viewer: Viewer,
    *,
    where: ActionFilter,
    first: int | None,
    after: str | None,
) -> Page[AgentAction]:
    """The actions the viewer may see that match ``where``, newest first by (occurred_at, id)."""
    require_action_reader(viewer)
    statement = scoped(select(AgentAction), AgentAction, viewer)
    if where.agent_id is not None:
        statement = statement.where(AgentAction.agent_id == where.agent_id)
    if where.action_types is not None:
        statement = statement.where(AgentAction.action_type.in_(where.action_types))
    if where.occurred_from is not None:
        statement = statement.where(AgentAction.occurred_at >= where.occurred_from)
    if where.occurred_to is not None:
        statement = statement.where(AgentAction.occurred_at < where.occurred_to)
    if where.critical is not None:
        statement = statement.where(AgentAction.is_critical == where.critical)
    if where.decision is not None:
        statement = statement.where(AgentAction.decision == where.decision)
    return await paginate(session, statement, order=ACTION_ORDER, first=first, after=after)
