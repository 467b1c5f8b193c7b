"""Use cases of authentication: who a token, key or session is, API keys, user tokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, and_, bindparam, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.auth.events import AccessRevoked
from backend.auth.models import ApiClient, ApiClientKind
from backend.auth.sessions import SessionOwner, is_session_token, session_owner
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
from backend.unit_of_work import raise_event
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
        "read:users",  # people: role and team (docs/api.md, "API keys and people")
        "read:users:email",  # and their e-mail addresses
    }
)
# Granted only when asked for: a key sees people's role, team and e-mail only if it must.
USER_SCOPES = frozenset({"read:users", "read:users:email"})
DEFAULT_SCOPES = {
    ApiClientKind.AGENT: AGENT_SCOPES,
    ApiClientKind.PARTNER: frozenset(
        s for s in PARTNER_SCOPES if s.startswith("read:") and s not in USER_SCOPES
    ),
}


def _viewer_of_user(*, active_only: bool) -> Select:
    """One user's role and team, with the teams they manage and the agents they see, as
    rows (user_id bound when executed; built once, so a request only binds it)."""
    rep = User.role == Role.REP.value
    manager = User.role == Role.MANAGER.value
    return (
        select(User.organization_id, User.role, User.team_id, TeamManager.team_id, Agent.id)
        .select_from(User)
        .outerjoin(TeamManager, and_(manager, TeamManager.user_id == User.id))
        .outerjoin(
            Agent,
            and_(
                Agent.organization_id == User.organization_id,
                or_(
                    and_(rep, Agent.owner_id == User.id),
                    and_(manager, Agent.team_id == TeamManager.team_id),
                ),
            ),
        )
        .where(User.id == bindparam("user_id"), User.active.is_(True) if active_only else true())
    )


VIEWER_OF_USER = _viewer_of_user(active_only=False)
VIEWER_OF_ACTIVE_USER = _viewer_of_user(active_only=True)


async def viewer_for_user(session: AsyncSession, user: User) -> Viewer:
    viewer = await viewer_of_user(session, user.id, active_only=False)
    if viewer is None:
        raise NotFoundError(f"user {user.id}")
    return viewer


async def viewer_of_user(
    session: AsyncSession, user_id: int, *, active_only: bool = True
) -> Viewer | None:
    """The viewer of a user, in one statement (the user joined with the teams they manage and
    the agents they see), or None for an unknown user (or an inactive one, by default).

    A rep sees the agents they own and their team; a manager the agents of the teams they
    manage; executives and administrators the whole organisation."""
    statement = VIEWER_OF_ACTIVE_USER if active_only else VIEWER_OF_USER
    rows = (await session.execute(statement, {"user_id": user_id})).all()
    if not rows:
        return None
    organization_id, role, team_id = rows[0][:3]
    agents = frozenset(r[4] for r in rows if r[4] is not None)
    match Role(role):
        case Role.EXECUTIVE | Role.ADMIN:
            return Viewer(
                organization_id, ViewerRole(role), user_id=user_id, team_ids=None, agent_ids=None
            )
        case Role.MANAGER:
            teams = frozenset(r[3] for r in rows if r[3] is not None)
            return Viewer(
                organization_id,
                ViewerRole.MANAGER,
                user_id=user_id,
                team_ids=teams,
                agent_ids=agents,
            )
    return Viewer(
        organization_id,
        ViewerRole.REP,
        user_id=user_id,
        team_ids=frozenset({team_id}) if team_id is not None else frozenset(),
        agent_ids=agents,
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


def bare_credential(credential: str) -> str:
    """The credential without its "Bearer " scheme."""
    credential = credential.strip()
    if credential.lower().startswith("bearer "):
        credential = credential[7:].strip()
    return credential


def writes_on_use(credential: str) -> bool:
    """Whether authenticating ``credential`` writes (an API key records its last use, a session
    when it was last seen); a user token is only read, so it needs no transaction."""
    credential = bare_credential(credential)
    return api_key_prefix(credential) is not None or is_session_token(credential)


async def authenticate(
    session: AsyncSession, settings: Settings, credential: str, *, now: dt.datetime | None = None
) -> Viewer:
    """Turn a credential (user token, API key, or a dashboard session's cookie token) into a
    Viewer, or refuse. An API key's use and a session's are written to ``session``: commit it
    (see `writes_on_use`). A session and a user token are live until ``now`` (default: the wall
    clock; a process passes its own, `AppState.now`)."""
    credential = bare_credential(credential)
    if not credential:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "missing credentials")
    if is_session_token(credential):
        signed_in, _ = await viewer_of_session(session, credential, now=now or utcnow())
        return signed_in
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
    claims = read_user_token(credential, secret_key=settings.secret_key, now=now)
    viewer = await viewer_of_user(session, claims.user_id)
    if viewer is None or viewer.organization_id != claims.organization_id:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "invalid or expired token")
    return viewer


async def viewer_of_session(
    session: AsyncSession, token: str, *, now: dt.datetime
) -> tuple[Viewer, SessionOwner]:
    """The viewer of a live session's token, and the session; refuses an ended (revoked,
    expired) or unknown session and an inactive person. Commit: it may note the session seen."""
    owner = await session_owner(session, token, now=now)
    viewer = None if owner is None else await viewer_of_user(session, owner.user_id)
    if owner is None or viewer is None or viewer.organization_id != owner.organization_id:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "signed out, or the session expired")
    return viewer, owner


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
        if not agent.active:
            raise DomainError(
                ErrorCode.INVALID,
                f"agent {agent.name!r} is deactivated: a key for it would act for it",
                field="agent",
            )
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


async def revoke_api_key(
    session: AsyncSession, *, viewer: Viewer, api_client_id: int, now: dt.datetime
) -> ApiClient:
    """Revoke an API key of the viewer's organisation (administrators and executives): refused
    from then on, and its live subscriptions end as soon as the unit of work commits
    (`AccessRevoked`). Revoking a revoked key changes nothing; a key of another organisation is
    not found."""
    client = await api_key_of(session, viewer=viewer, api_client_id=api_client_id)
    if client.revoked_at is None:
        client.revoked_at = now
        await flush(session)
        raise_event(
            session, AccessRevoked(organization_id=client.organization_id, api_client_id=client.id)
        )
    return client


async def list_api_keys(
    session: AsyncSession, *, viewer: Viewer, include_revoked: bool = True
) -> list[ApiClient]:
    """The API keys of the viewer's organisation, newest first (administrators and executives):
    their metadata only, since no secret is stored."""
    viewer.require_role(ViewerRole.ADMIN, ViewerRole.EXECUTIVE)
    statement = select(ApiClient).where(ApiClient.organization_id == viewer.organization_id)
    if not include_revoked:
        statement = statement.where(ApiClient.revoked_at.is_(None))
    return list(await session.scalars(statement.order_by(ApiClient.id.desc())))


async def api_key_of(session: AsyncSession, *, viewer: Viewer, api_client_id: int) -> ApiClient:
    """One API key of the viewer's organisation (administrators and executives); another
    organisation's is not found, like an unknown one."""
    viewer.require_role(ViewerRole.ADMIN, ViewerRole.EXECUTIVE)
    client = await session.scalar(
        select(ApiClient).where(
            ApiClient.id == api_client_id, ApiClient.organization_id == viewer.organization_id
        )
    )
    if client is None:
        raise NotFoundError("API key", field="id")
    return client


@dataclass(frozen=True)
class RotatedApiKey:
    revoked: ApiClient
    created: CreatedApiKey


async def rotate_api_key(
    session: AsyncSession, *, viewer: Viewer, api_client_id: int, now: dt.datetime
) -> RotatedApiKey:
    """Replace a live key of the viewer's organisation with a new one of the same name, kind,
    agent and scopes: the old one is revoked at once (its live subscriptions end after commit)
    and the new one's secret is returned once. A revoked key cannot be rotated (`invalid`);
    another organisation's is not found."""
    old = await api_key_of(session, viewer=viewer, api_client_id=api_client_id)
    if old.revoked_at is not None:
        raise DomainError(ErrorCode.INVALID, "this key is revoked: create a new one", field="id")
    created = await create_api_key(
        session,
        viewer=viewer,
        kind=ApiClientKind(old.kind),
        name=old.name,
        scopes=old.scopes,
        agent_id=old.agent_id,
    )
    revoked = await revoke_api_key(session, viewer=viewer, api_client_id=old.id, now=now)
    return RotatedApiKey(revoked=revoked, created=created)


async def revoke_agent_keys(
    session: AsyncSession, *, viewer: Viewer, agent_id: int, now: dt.datetime
) -> list[ApiClient]:
    """Revoke every live key of one agent of the viewer's organisation (it was deactivated)."""
    live = await session.scalars(
        select(ApiClient).where(
            ApiClient.organization_id == viewer.organization_id,
            ApiClient.agent_id == agent_id,
            ApiClient.revoked_at.is_(None),
        )
    )
    return [
        await revoke_api_key(session, viewer=viewer, api_client_id=client.id, now=now)
        for client in live.all()
    ]
