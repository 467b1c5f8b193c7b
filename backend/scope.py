"""What a viewer asks about, checked against what they may see: the agents and teams in their
scope, their organisation's configuration, and the range of days (shared by every domain that
reads by scope: analytics, reviews, calibration)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.errors import DomainError, ErrorCode, NotFoundError, Problems
from backend.orgs.models import Organization, Team
from backend.viewer import Viewer, scoped

DEFAULT_DAYS = 30
MAX_DAYS = 400


@dataclass(frozen=True)
class DateRange:
    since: dt.date
    until: dt.date  # inclusive


def date_range(since: dt.date | None, until: dt.date | None, *, today: dt.date) -> DateRange:
    """The range asked for: the trailing 30 days by default, ``from <= to``, at most 400 days."""
    until = until or today
    since = since or until - dt.timedelta(days=DEFAULT_DAYS - 1)
    problems = Problems()
    if problems.require(since <= until, "from", f"must be on or before `to` ({until})"):
        days = (until - since).days + 1
        problems.require(
            days <= MAX_DAYS, "from", f"the range spans {days} days; at most {MAX_DAYS}"
        )
    problems.raise_if_any()
    return DateRange(since, until)


async def agent_in_scope(session: AsyncSession, viewer: Viewer, agent_id: int) -> Agent | None:
    return await session.scalar(scoped(select(Agent).where(Agent.id == agent_id), Agent, viewer))


async def team_in_scope(session: AsyncSession, viewer: Viewer, team_id: int) -> Team | None:
    return await session.scalar(scoped(select(Team).where(Team.id == team_id), Team, viewer))


async def agents_of_team(session: AsyncSession, viewer: Viewer, team_id: int) -> list[Agent]:
    statement = scoped(select(Agent).where(Agent.team_id == team_id), Agent, viewer)
    return list(await session.scalars(statement.order_by(Agent.name, Agent.id)))


async def teams_in_scope(session: AsyncSession, viewer: Viewer) -> list[Team]:
    statement = scoped(select(Team), Team, viewer).order_by(Team.name, Team.id)
    return list(await session.scalars(statement))


async def organization_config(session: AsyncSession, organization_id: int) -> dict[str, Any]:
    config = await session.scalar(
        select(Organization.config).where(Organization.id == organization_id)
    )
    return dict(config or {})


async def scope_agents(
    session: AsyncSession, viewer: Viewer, *, agent_id: int | None, team_id: int | None
) -> list[int] | None:
    """The agents asked for: one agent, a team's agents, or (None) all the viewer sees. Out of
    scope is not found, like unknown."""
    if agent_id is not None and team_id is not None:
        raise DomainError(ErrorCode.INVALID, "name an agent or a team, not both", field="teamId")
    if agent_id is not None:
        if await agent_in_scope(session, viewer, agent_id) is None:
            raise NotFoundError("agent", field="agentId")
        return [agent_id]
    if team_id is not None:
        if await team_in_scope(session, viewer, team_id) is None:
            raise NotFoundError("team", field="teamId")
        return [a.id for a in await agents_of_team(session, viewer, team_id)]
    return None
