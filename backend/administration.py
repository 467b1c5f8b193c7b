"""Administration, composed in one place: organisations, teams, people, agents and API keys
created, invited, rotated, revoked or deactivated, each with its audit row in the same unit of
work. Each noun's rows are written by its own package (`orgs`, `agents`, `auth`); this module
checks that the rows named belong to the caller's organisation, writes the audit
(`orgs.record_admin_change`) and raises `AccessRevoked` where a credential stops working.

Everything here is for administrators of one organisation (`Viewer.system` for the operator's
command line); an id of another organisation is not found, like an unknown one. Creating an
organisation is the operator's act only: no viewer can.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents import service as agents
from backend.agents.models import Agent
from backend.auth import service as auth
from backend.auth.events import AccessRevoked
from backend.auth.models import ApiClient, ApiClientKind
from backend.auth.sign_in import LinkToSend, link_url, request_link, sign_in_email
from backend.errors import DomainError, ErrorCode
from backend.notifications.smtp import send_email
from backend.orgs import service as orgs
from backend.orgs.models import AdminAuditEntry, AdminChange, Organization, Role, Team, User
from backend.settings import Settings
from backend.unit_of_work import raise_event
from backend.viewer import Viewer, ViewerRole

log = logging.getLogger(__name__)


async def create_organization(
    session: AsyncSession, *, slug: str, name: str, timezone: str, now: dt.datetime
) -> Organization:
    """A new organisation (the operator, from the command line)."""
    org = await orgs.create_organization(session, slug=slug, name=name, timezone=timezone)
    await orgs.record_admin_change(
        session,
        Viewer.system(org.id),
        AdminChange.ORGANIZATION_CREATED,
        target_type="organization",
        target_id=org.id,
        now=now,
        details={"slug": org.slug, "name": org.name, "timezone": org.timezone},
    )
    return org


async def create_team(
    session: AsyncSession, viewer: Viewer, *, name: str, now: dt.datetime
) -> Team:
    team = await orgs.create_team(session, viewer, name=name)
    await orgs.record_admin_change(
        session,
        viewer,
        AdminChange.TEAM_CREATED,
        target_type="team",
        target_id=team.id,
        now=now,
        details={"name": team.name},
    )
    return team


@dataclass(frozen=True)
class Invitation:
    """A person added, and their first sign-in link: mail it after commit (`send_invitation`)."""

    user: User
    link: LinkToSend | None


async def invite_user(
    session: AsyncSession,
    viewer: Viewer,
    *,
    email: str,
    name: str,
    role: Role,
    team_id: int | None,
    now: dt.datetime,
) -> Invitation:
    """Add a person to the viewer's organisation and make their first sign-in link (the very
    links of `/auth/sign-in`: single use, short-lived; they can ask for another there)."""
    user = await orgs.add_user(session, viewer, email=email, name=name, role=role, team_id=team_id)
    await orgs.record_admin_change(
        session,
        viewer,
        AdminChange.USER_INVITED,
        target_type="user",
        target_id=user.id,
        now=now,
        details={"email": user.email, "name": user.name, "role": user.role, "teamId": team_id},
    )
    return Invitation(user=user, link=await request_link(session, address=user.email, now=now))


async def send_invitation(settings: Settings, invitation: Invitation, *, now: dt.datetime) -> bool:
    """Mail an invitation's sign-in link (after commit). False when it was not sent: no SMTP
    server configured, or it refused (logged; the person can ask for a link at sign-in)."""
    if invitation.link is None:
        return False
    url = link_url(settings.public_base_url, invitation.link.token)
    if settings.smtp_host is None:
        log.warning(
            "SMTP_HOST is not set: the invitation of %s was not sent", invitation.user.email
        )
        return False
    message = sign_in_email(invitation.link, url=url, sender=settings.smtp_sender, now=now)
    message.replace_header("Subject", "You are invited to the Sales Agent dashboard")
    try:
        await send_email(settings, message)
    except Exception:
        log.exception("the invitation of %s could not be sent", invitation.user.email)
        return False
    return True


async def deactivate_user(
    session: AsyncSession, viewer: Viewer, *, user_id: int, now: dt.datetime
) -> User:
    """Deactivate a person: their tokens and sessions are refused from their next request, and
    their live subscriptions end after commit (`AccessRevoked`). Deactivating an inactive
    person changes nothing (and audits nothing)."""
    changed = await orgs.deactivate_user(session, viewer, user_id=user_id)
    user = await orgs.user_of(session, viewer, user_id, field="userId")
    if changed:
        await orgs.record_admin_change(
            session,
            viewer,
            AdminChange.USER_DEACTIVATED,
            target_type="user",
            target_id=user.id,
            now=now,
            details={"email": user.email},
        )
        raise_event(session, AccessRevoked(organization_id=user.organization_id, user_id=user.id))
    return user


async def create_agent(
    session: AsyncSession,
    viewer: Viewer,
    *,
    name: str,
    owner_id: int,
    team_id: int,
    now: dt.datetime,
) -> Agent:
    """A new agent, owned by an active person and working in a team of the organisation."""
    viewer.require_role(ViewerRole.ADMIN)
    owner = await orgs.user_of(session, viewer, owner_id, field="ownerId")
    if not owner.active:
        raise DomainError(ErrorCode.INVALID, "its owner is deactivated", field="ownerId")
    team = await orgs.team_of(session, viewer, team_id, field="teamId")
    agent = await agents.create_agent(
        session, viewer, name=name, owner_id=owner.id, team_id=team.id
    )
    await orgs.record_admin_change(
        session,
        viewer,
        AdminChange.AGENT_CREATED,
        target_type="agent",
        target_id=agent.id,
        now=now,
        details={"name": agent.name, "ownerId": owner.id, "teamId": team.id},
    )
    return agent


@dataclass(frozen=True)
class DeactivatedAgent:
    agent: Agent
    revoked_keys: list[ApiClient]


async def deactivate_agent(
    session: AsyncSession, viewer: Viewer, *, agent_id: int, now: dt.datetime
) -> DeactivatedAgent:
    """Deactivate an agent and revoke its live keys (their subscriptions end after commit).
    Deactivating an inactive agent changes nothing."""
    agent, changed = await agents.deactivate_agent(session, viewer, agent_id=agent_id)
    if not changed:
        return DeactivatedAgent(agent, [])
    revoked = await auth.revoke_agent_keys(session, viewer=viewer, agent_id=agent_id, now=now)
    await orgs.record_admin_change(
        session,
        viewer,
        AdminChange.AGENT_DEACTIVATED,
        target_type="agent",
        target_id=agent_id,
        now=now,
        details={"revokedKeyIds": [c.id for c in revoked]},
    )
    return DeactivatedAgent(agent, revoked)


async def list_api_keys(session: AsyncSession, viewer: Viewer) -> list[ApiClient]:
    viewer.require_role(ViewerRole.ADMIN)
    return await auth.list_api_keys(session, viewer=viewer)


def _key_details(client: ApiClient) -> dict[str, object]:
    return {"name": client.name, "kind": client.kind, "scopes": list(client.scopes)}


async def create_api_key(
    session: AsyncSession,
    viewer: Viewer,
    *,
    kind: ApiClientKind,
    name: str,
    scopes: list[str] | None,
    agent_id: int | None,
    now: dt.datetime,
) -> auth.CreatedApiKey:
    viewer.require_role(ViewerRole.ADMIN)
    created = await auth.create_api_key(
        session, viewer=viewer, kind=kind, name=name, scopes=scopes, agent_id=agent_id
    )
    await orgs.record_admin_change(
        session,
        viewer,
        AdminChange.API_KEY_CREATED,
        target_type="api_key",
        target_id=created.client.id,
        now=now,
        details=_key_details(created.client),
    )
    return created


async def rotate_api_key(
    session: AsyncSession, viewer: Viewer, *, api_client_id: int, now: dt.datetime
) -> auth.RotatedApiKey:
    viewer.require_role(ViewerRole.ADMIN)
    rotated = await auth.rotate_api_key(
        session, viewer=viewer, api_client_id=api_client_id, now=now
    )
    await orgs.record_admin_change(
        session,
        viewer,
        AdminChange.API_KEY_ROTATED,
        target_type="api_key",
        target_id=rotated.revoked.id,
        now=now,
        details={**_key_details(rotated.revoked), "replacedBy": rotated.created.client.id},
    )
    return rotated


async def revoke_api_key(
    session: AsyncSession, viewer: Viewer, *, api_client_id: int, now: dt.datetime
) -> ApiClient:
    """Revoke a key (audited once: revoking a revoked key changes nothing)."""
    viewer.require_role(ViewerRole.ADMIN)
    before = await auth.api_key_of(session, viewer=viewer, api_client_id=api_client_id)
    was_live = before.revoked_at is None
    client = await auth.revoke_api_key(session, viewer=viewer, api_client_id=api_client_id, now=now)
    if was_live:
        await orgs.record_admin_change(
            session,
            viewer,
            AdminChange.API_KEY_REVOKED,
            target_type="api_key",
            target_id=client.id,
            now=now,
            details=_key_details(client),
        )
    return client


async def audit_trail(
    session: AsyncSession, viewer: Viewer, *, limit: int = 50, before_id: int | None = None
) -> list[AdminAuditEntry]:
    return await orgs.admin_audit(session, viewer, limit=limit, before_id=before_id)
