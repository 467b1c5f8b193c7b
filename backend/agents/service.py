"""Use cases of agents: listing them, and creating or deactivating one (administrators)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.errors import DomainError, ErrorCode, NotFoundError, flush
from backend.viewer import Viewer, ViewerRole, scoped

MAX_AGENTS = 1000
MAX_NAME = 200


async def list_agents(session: AsyncSession, viewer: Viewer) -> list[Agent]:
    """The agents the viewer may see, by name (an organisation has tens, not thousands)."""
    statement = scoped(select(Agent), Agent, viewer).order_by(Agent.name, Agent.id)
    return list(await session.scalars(statement.limit(MAX_AGENTS)))


async def create_agent(
    session: AsyncSession, viewer: Viewer, *, name: str, owner_id: int, team_id: int
) -> Agent:
    """A new agent of the viewer's organisation (administrators). The caller has checked that
    its owner and team are of that organisation (`backend.administration`)."""
    viewer.require_role(ViewerRole.ADMIN)
    name = name.strip()
    if not name:
        raise DomainError(ErrorCode.REQUIRED, "name must not be empty", field="name")
    if len(name) > MAX_NAME:
        raise DomainError(
            ErrorCode.INVALID, f"name is longer than {MAX_NAME} characters", field="name"
        )
    taken = await session.scalar(
        select(Agent.id).where(
            Agent.organization_id == viewer.organization_id, func.lower(Agent.name) == name.lower()
        )
    )
    if taken is not None:
        raise DomainError(ErrorCode.CONFLICT, f"an agent is named {name!r}", field="name")
    agent = Agent(
        organization_id=viewer.organization_id, name=name, owner_id=owner_id, team_id=team_id
    )
    session.add(agent)
    await flush(session)
    return agent


async def deactivate_agent(
    session: AsyncSession, viewer: Viewer, *, agent_id: int
) -> tuple[Agent, bool]:
    """Mark an agent of the viewer's organisation inactive (administrators); another
    organisation's is not found. The agent, and False when it was inactive already."""
    viewer.require_role(ViewerRole.ADMIN)
    agent = await session.scalar(
        select(Agent).where(Agent.id == agent_id, Agent.organization_id == viewer.organization_id)
    )
    if agent is None:
        raise NotFoundError("agent", field="agentId")
    if not agent.active:
        return agent, False
    agent.active = False
    await flush(session)
    return agent, True
