"""Queries over actions: the viewer's actions, newest first, one keyset page at a time, read as
plain rows (columns mapped to named tuples, no ORM identity map on this hot path)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Row, Select, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.actions.rollup import escalated_clause
from backend.agents.models import Agent
from backend.pagination import Page, paginate
from backend.viewer import Viewer, ViewerRole, scoped

ACTION_ORDER = (AgentAction.occurred_at, AgentAction.id)


class ActionRow(NamedTuple):
    """What a list shows of an action (the columns of ``ACTION_COLUMNS``, in their order)."""

    id: int
    agent_id: int
    action_type: str
    confidence: float
    calibrated_confidence: float | None
    decision: str | None
    is_critical: bool
    cost_amount: Decimal
    cost_currency: str
    cost_tokens: int
    occurred_at: dt.datetime
    idempotency_key: str


ACTION_COLUMNS = tuple(getattr(AgentAction, name) for name in ActionRow._fields)
WIDTH = len(ACTION_COLUMNS)


def action_row(row: Row[Any]) -> ActionRow:
    """The action of a result row whose first columns are ``ACTION_COLUMNS``."""
    return ActionRow._make(row[:WIDTH])


@dataclass(frozen=True)
class ActionFilter:
    """Conditions that must all hold; None means "any". An empty tuple matches nothing."""

    agent_id: int | None = None
    action_types: tuple[str, ...] | None = None
    occurred_from: dt.datetime | None = None  # inclusive
    occurred_to: dt.datetime | None = None  # exclusive
    critical: bool | None = None
    decision: str | None = None
    team_id: int | None = None  # the team's agents (today's members)
    escalated: bool | None = None  # as the dashboards count escalations (``rollup.escalated``)


def require_action_reader(viewer: Viewer) -> None:
    """People read by role; the agent's key reads its own actions (it wrote them); any other
    key needs `read:actions`."""
    if viewer.role is not ViewerRole.AGENT:
        viewer.require_scope("read:actions")


def actions_query(viewer: Viewer, where: ActionFilter) -> Select[Any]:
    """``ACTION_COLUMNS`` of the actions the viewer may see that match ``where`` (unordered).
    With an agent, newest first, PostgreSQL reads the index (organization_id, agent_id,
    occurred_at, id) backwards."""
    require_action_reader(viewer)
    statement = scoped(select(*ACTION_COLUMNS), AgentAction, viewer)
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
    if where.team_id is not None:
        team = select(Agent.id).where(
            Agent.organization_id == viewer.organization_id, Agent.team_id == where.team_id
        )
        statement = statement.where(AgentAction.agent_id.in_(team))
    if where.escalated is not None:
        clause = escalated_clause()
        statement = statement.where(clause if where.escalated else not_(clause))
    return statement


async def list_actions(
    session: AsyncSession,
    viewer: Viewer,
    *,
    where: ActionFilter,
    first: int | None,
    after: str | None,
    count: bool = True,
) -> Page[ActionRow]:
    """The actions the viewer may see that match ``where``, newest first by (occurred_at, id);
    ``count``: also how many match in all (one more statement)."""
    return await paginate(
        session,
        actions_query(viewer, where),
        order=ACTION_ORDER,
        first=first,
        after=after,
        count=count,
        item=action_row,
    )
