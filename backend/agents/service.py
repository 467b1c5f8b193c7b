"""Use cases of agents."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.viewer import Viewer, scoped

MAX_AGENTS = 1000


async def list_agents(session: AsyncSession, viewer: Viewer) -> list[Agent]:
    """The agents the viewer may see, by name (an organisation has tens, not thousands)."""
    statement = scoped(select(Agent), Agent, viewer).order_by(Agent.name, Agent.id)
    return list(await session.scalars(statement.limit(MAX_AGENTS)))
