"""Use cases on organisations and their people, and the audit of administrative changes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.errors import DomainError, ErrorCode, NotFoundError, flush
from backend.orgs.models import (
    AdminAuditEntry,
    AdminChange,
    Organization,
    Role,
    Team,
    TeamManager,
    User,
)
from backend.viewer import Viewer, ViewerRole, scoped


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


async def organization_config(session: AsyncSession, organization_id: int) -> dict[str, Any]:
    """The organisation's configuration (rules, policy overrides, ...); empty when unknown."""
    config = await session.scalar(
        select(Organization.config).where(Organization.id == organization_id)
    )
    return dict(config or {})


async def count_organizations(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Organization)) or 0)


# -- administration: organisations, teams, people, and the audit of what changed -------------

SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
MAX_NAME = 200
MAX_ADDRESS = 320


def _name(value: str, *, field: str = "name") -> str:
    name = value.strip()
    if not name:
        raise DomainError(ErrorCode.REQUIRED, f"{field} must not be empty", field=field)
    if len(name) > MAX_NAME:
        raise DomainError(
            ErrorCode.INVALID, f"{field} is longer than {MAX_NAME} characters", field=field
        )
    return name


def email_address(value: str) -> str:
    """An address as users are stored (trimmed, lower case), or `invalid` on ``email``."""
    address = value.strip().lower()
    local, at, domain = address.partition("@")
    if not (at and local and "." in domain) or len(address) > MAX_ADDRESS or "@" in domain:
        raise DomainError(ErrorCode.INVALID, f"{value!r} is not an e-mail address", field="email")
    if any(c.isspace() for c in address):
        raise DomainError(ErrorCode.INVALID, f"{value!r} is not an e-mail address", field="email")
    return address


async def create_organization(
    session: AsyncSession, *, slug: str, name: str, timezone: str = "UTC"
) -> Organization:
    """A new organisation (the operator's act: no viewer may create one)."""
    slug = slug.strip().lower()
    if not SLUG.fullmatch(slug):
        raise DomainError(
            ErrorCode.INVALID,
            f"slug {slug!r} must be 1-63 lower-case letters, digits and inner hyphens",
            field="slug",
        )
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(
            ErrorCode.INVALID, f"{timezone!r} is no IANA time zone", field="timezone"
        ) from None
    if await session.scalar(select(Organization.id).where(Organization.slug == slug)):
        raise DomainError(ErrorCode.CONFLICT, f"organisation {slug!r} exists", field="slug")
    org = Organization(slug=slug, name=_name(name), timezone=timezone)
    session.add(org)
    await flush(session)
    return org


async def team_of(session: AsyncSession, viewer: Viewer, team_id: int, *, field: str) -> Team:
    """A team of the viewer's organisation; another's is not found, like an unknown one."""
    team = await session.scalar(
        select(Team).where(Team.id == team_id, Team.organization_id == viewer.organization_id)
    )
    if team is None:
        raise NotFoundError("team", field=field)
    return team


async def user_of(session: AsyncSession, viewer: Viewer, user_id: int, *, field: str) -> User:
    """A person of the viewer's organisation; another's is not found, like an unknown one."""
    user = await session.scalar(
        select(User).where(User.id == user_id, User.organization_id == viewer.organization_id)
    )
    if user is None:
        raise NotFoundError("user", field=field)
    return user


async def create_team(session: AsyncSession, viewer: Viewer, *, name: str) -> Team:
    viewer.require_role(ViewerRole.ADMIN)
    name = _name(name)
    taken = await session.scalar(
        select(Team.id).where(
            Team.organization_id == viewer.organization_id, func.lower(Team.name) == name.lower()
        )
    )
    if taken is not None:
        raise DomainError(ErrorCode.CONFLICT, f"a team is named {name!r}", field="name")
    team = Team(organization_id=viewer.organization_id, name=name)
    session.add(team)
    await flush(session)
    return team


async def add_user(
    session: AsyncSession,
    viewer: Viewer,
    *,
    email: str,
    name: str,
    role: Role,
    team_id: int | None = None,
) -> User:
    """A new, active person of the viewer's organisation (administrators). A rep needs a team;
    a manager given a team manages it. An address already used (here or anywhere: logins are by
    address) is a conflict."""
    viewer.require_role(ViewerRole.ADMIN)
    address = email_address(email)
    name = _name(name)
    team = await team_of(session, viewer, team_id, field="teamId") if team_id else None
    if role is Role.REP and team is None:
        raise DomainError(ErrorCode.REQUIRED, "a rep needs a team", field="teamId")
    if await session.scalar(select(User.id).where(User.email == address)) is not None:
        raise DomainError(ErrorCode.CONFLICT, f"{address} has an account", field="email")
    user = User(
        organization_id=viewer.organization_id,
        email=address,
        name=name,
        role=role.value,
        team_id=team.id if team else None,
    )
    session.add(user)
    await flush(session)
    if role is Role.MANAGER and team is not None:
        session.add(
            TeamManager(organization_id=viewer.organization_id, team_id=team.id, user_id=user.id)
        )
        await flush(session)
    return user


async def deactivate_user(session: AsyncSession, viewer: Viewer, *, user_id: int) -> bool:
    """Mark a person of the viewer's organisation inactive (administrators; not oneself): their
    tokens and sessions are refused from then on. False when they were inactive already."""
    viewer.require_role(ViewerRole.ADMIN)
    user = await user_of(session, viewer, user_id, field="userId")
    if viewer.user_id == user.id:
        raise DomainError(ErrorCode.INVALID, "you cannot deactivate yourself", field="userId")
    if not user.active:
        return False
    user.active = False
    await flush(session)
    return True


async def record_admin_change(
    session: AsyncSession,
    viewer: Viewer,
    change: AdminChange,
    *,
    target_type: str,
    target_id: int,
    now: dt.datetime,
    details: dict[str, Any] | None = None,
) -> AdminAuditEntry:
    """Write the audit row of one administrative change, in the change's unit of work."""
    entry = AdminAuditEntry(
        organization_id=viewer.organization_id,
        change=change.value,
        actor_user_id=viewer.user_id,
        actor_api_client_id=viewer.api_client_id,
        target_type=target_type,
        target_id=target_id,
        details=details or {},
        at=now,
    )
    session.add(entry)
    await flush(session)
    return entry


async def admin_audit(
    session: AsyncSession, viewer: Viewer, *, limit: int = 50, before_id: int | None = None
) -> list[AdminAuditEntry]:
    """The organisation's administrative changes, newest first (administrators)."""
    viewer.require_role(ViewerRole.ADMIN)
    statement = scoped(select(AdminAuditEntry), AdminAuditEntry, viewer)
    if before_id is not None:
        statement = statement.where(AdminAuditEntry.id < before_id)
    statement = statement.order_by(AdminAuditEntry.id.desc()).limit(limit)
    return list(await session.scalars(statement))


async def team_by_reference(session: AsyncSession, *, organization_id: int, reference: str) -> Team:
    """Find a team of the organisation by id or by name (any case)."""
    condition = (
        Team.id == int(reference)
        if reference.isdigit()
        else func.lower(Team.name) == reference.strip().lower()
    )
    team = await session.scalar(
        select(Team).where(Team.organization_id == organization_id, condition)
    )
    if team is None:
        raise NotFoundError(f"team {reference!r}", field="team")
    return team


async def user_by_email(session: AsyncSession, *, organization_id: int, email: str) -> User:
    """Find a person of the organisation by address; another organisation's is not found."""
    user = await session.scalar(
        select(User).where(
            User.organization_id == organization_id, User.email == email.strip().lower()
        )
    )
    if user is None:
        raise NotFoundError(f"user {email!r}", field="email")
    return user
