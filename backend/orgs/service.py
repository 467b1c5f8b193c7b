"""Use cases on organisations and their people."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.errors import NotFoundError
from backend.orgs.models import Organization


async def organization_by_slug(session: AsyncSession, slug: str) -> Organization:
    org = await session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise NotFoundError(f"organisation {slug!r}", field="org")
    return org


async def agent_by_reference(
    session: AsyncSession, *, organization_id: int, reference: str
) -> Agent:
    """Find an agent of the organisation by id or by name."""
    condition = (
        Agent.id == int(reference)
        if reference.isdigit()
        else func.lower(Agent.name) == reference.lower()
    )
    agent = await session.scalar(
        select(Agent).where(Agent.organization_id == organization_id, condition)
    )
    if agent is None:
        raise NotFoundError(f"agent {reference!r}", field="agent")
    return agent


async def count_organizations(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Organization)) or 0)
