"""Use cases of authentication: who a token or key is, API keys, user tokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.auth.models import ApiClient, ApiClientKind
from backend.auth.tokens import (
    api_key_matches,
    api_key_prefix,
    issue_user_token,
    new_api_key,
    read_user_token,
)
from backend.database import utcnow
from backend.errors import DomainError, ErrorCode, NotFoundError, flush
from backend.orgs.models import Role, TeamManager, User
from backend.settings import Settings
from backend.viewer import Viewer, ViewerRole

AGENT_SCOPES = frozenset({"write:actions", "write:signals", "write:outcomes", "read:policy"})
PARTNER_SCOPES = frozenset(
    {
        "read:actions",
        "read:outcomes",
        "read:feedback",
        "read:calibration",
        "read:analytics",
        "write:feedback",
        "write:signals",
    }
)
DEFAULT_SCOPES = {
    ApiClientKind.AGENT: AGENT_SCOPES,
    ApiClientKind.PARTNER: frozenset(s for s in PARTNER_SCOPES if s.startswith("read:")),
}


async def viewer_for_user(session: AsyncSession, user: User) -> Viewer:
    role = Role(user.role)
    if role in (Role.EXECUTIVE, Role.ADMIN):
        return Viewer(
            user.organization_id, ViewerRole(role), user_id=user.id, team_ids=None, agent_ids=None
        )
    if role is Role.MANAGER:
        managed = await session.scalars(
            select(TeamManager.team_id).where(TeamManager.user_id == user.id)
        )
        team_ids = frozenset(managed)
        agents = await session.scalars(
            select(Agent.id).where(
                Agent.organization_id == user.organization_id, Agent.team_id.in_(sorted(team_ids))
            )
        )
        return Viewer(
            user.organization_id,
            ViewerRole.MANAGER,
            user_id=user.id,
            team_ids=team_ids,
            agent_ids=frozenset(agents),
        )
    agents = await session.scalars(
        select(Agent.id).where(
            Agent.organization_id == user.organization_id, Agent.owner_id == user.id
        )
    )
    team_ids = frozenset({user.team_id}) if user.team_id is not None else frozenset()
    return Viewer(
        user.organization_id,
        ViewerRole.REP,
        user_id=user.id,
        team_ids=team_ids,
        agent_ids=frozenset(agents),
    )


async def viewer_for_api_client(session: AsyncSession, client: ApiClient) -> Viewer:
    scopes = frozenset(client.scopes)
    if client.kind == ApiClientKind.AGENT:
        team_id = await session.scalar(select(Agent.team_id).where(Agent.id == client.agent_id))
        return Viewer(
            client.organization_id,
            ViewerRole.AGENT,
            api_client_id=client.id,
            team_ids=frozenset({team_id}) if team_id is not None else frozenset(),
            agent_ids=frozenset({client.agent_id}) if client.agent_id is not None else frozenset(),
            scopes=scopes,
        )
    return Viewer(
        client.organization_id,
        ViewerRole.PARTNER,
        api_client_id=client.id,
        team_ids=None,
        agent_ids=None,
        scopes=scopes,
    )


async def authenticate(session: AsyncSession, settings: Settings, credential: str) -> Viewer:
    """Turn a bearer credential (user token or API key) into a Viewer, or refuse."""
    credential = credential.strip()
    if credential.lower().startswith("bearer "):
        credential = credential[7:].strip()
    if not credential:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "missing credentials")
    prefix = api_key_prefix(credential)
    if prefix is not None:
        client = await session.scalar(select(ApiClient).where(ApiClient.key_prefix == prefix))
        if client is None or client.revoked_at is not None:
            raise DomainError(ErrorCode.UNAUTHENTICATED, "invalid API key")
        if not api_key_matches(credential, client.key_hash):
            raise DomainError(ErrorCode.UNAUTHENTICATED, "invalid API key")
        await session.execute(
            update(ApiClient).where(ApiClient.id == client.id).values(last_used_at=utcnow())
        )
        return await viewer_for_api_client(session, client)
    claims = read_user_token(credential, secret_key=settings.secret_key)
    user = await session.get(User, claims.user_id)
    if user is None or not user.active or user.organization_id != claims.organization_id:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "invalid or expired token")
    return await viewer_for_user(session, user)


async def issue_token_for_email(session: AsyncSession, settings: Settings, email: str) -> str:
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active:
        raise NotFoundError(f"user {email!r}", field="email")
    return issue_user_token(
        user_id=user.id,
        organization_id=user.organization_id,
        secret_key=settings.secret_key,
        ttl=dt.timedelta(hours=settings.token_ttl_hours),
    )


@dataclass(frozen=True)
class CreatedApiKey:
    client: ApiClient
    key: str


async def create_api_key(
    session: AsyncSession,
    *,
    viewer: Viewer,
    kind: ApiClientKind,
    name: str,
    scopes: Iterable[str] | None = None,
    agent_id: int | None = None,
) -> CreatedApiKey:
    """Create an API key; the plain key is returned once and only its hash is kept."""
    viewer.require_role(ViewerRole.ADMIN, ViewerRole.EXECUTIVE)
    allowed = AGENT_SCOPES if kind is ApiClientKind.AGENT else PARTNER_SCOPES
    chosen = frozenset(scopes) if scopes is not None else DEFAULT_SCOPES[kind]
    if unknown := sorted(chosen - allowed):
        raise DomainError(
            ErrorCode.INVALID,
            f"unknown scopes for a {kind.value} key: {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}",
            field="scopes",
        )
    if kind is ApiClientKind.AGENT:
        if agent_id is None:
            raise DomainError(ErrorCode.REQUIRED, "an agent key needs its agent", field="agent")
        agent = await session.scalar(
            select(Agent).where(
                Agent.id == agent_id, Agent.organization_id == viewer.organization_id
            )
        )
        if agent is None:
            raise NotFoundError("agent", field="agent")
    elif agent_id is not None:
        raise DomainError(
            ErrorCode.INVALID, "a partner key is not bound to an agent", field="agent"
        )
    if not name.strip():
        raise DomainError(ErrorCode.REQUIRED, "name must not be empty", field="name")
    generated = new_api_key()
    client = ApiClient(
        organization_id=viewer.organization_id,
        name=name.strip(),
        kind=kind.value,
        agent_id=agent_id,
        key_prefix=generated.prefix,
        key_hash=generated.key_hash,
        scopes=sorted(chosen),
    )
    session.add(client)
    await flush(session)
    return CreatedApiKey(client=client, key=generated.key)
