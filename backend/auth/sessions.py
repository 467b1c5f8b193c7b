"""Dashboard sessions: the session cookie's token, opened at sign-in, resolved on each request and
revoked at sign-out. Only a token's SHA-256 is stored; a session ends at a fixed time after
sign-in (SESSION_TTL_DAYS), however much it is used."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.events import AccessRevoked
from backend.auth.models import UserSession
from backend.auth.tokens import hash_token
from backend.errors import flush
from backend.unit_of_work import raise_event

SESSION_COOKIE = "sal_session"
SESSION_TOKEN_PREFIX = "sals_"
# last_seen_at is written at most this often per session: a request is not a write.
LAST_SEEN_EVERY = dt.timedelta(minutes=5)
USER_AGENT_LENGTH = 300


def new_token(prefix: str = "") -> str:
    """256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def is_session_token(credential: str) -> bool:
    return credential.startswith(SESSION_TOKEN_PREFIX) and len(credential) <= 100


def clipped(user_agent: str | None) -> str | None:
    return user_agent[:USER_AGENT_LENGTH] if user_agent else None


@dataclass(frozen=True)
class OpenedSession:
    token: str  # for the cookie; never stored
    row: UserSession


async def open_session(
    session: AsyncSession,
    *,
    user_id: int,
    organization_id: int,
    now: dt.datetime,
    ttl: dt.timedelta,
    user_agent: str | None = None,
    sign_in_link_id: int | None = None,
) -> OpenedSession:
    token = new_token(SESSION_TOKEN_PREFIX)
    row = UserSession(
        organization_id=organization_id,
        user_id=user_id,
        token_hash=hash_token(token),
        sign_in_link_id=sign_in_link_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + ttl,
        user_agent=clipped(user_agent),
    )
    session.add(row)
    await flush(session)
    return OpenedSession(token, row)


@dataclass(frozen=True)
class SessionOwner:
    session_id: int
    user_id: int
    organization_id: int
    expires_at: dt.datetime


async def session_owner(
    session: AsyncSession, token: str, *, now: dt.datetime
) -> SessionOwner | None:
    """Whose live session ``token`` opens (None: unknown, revoked or expired); notes that it was
    seen, at most every LAST_SEEN_EVERY (commit it)."""
    row = (
        await session.execute(
            select(
                UserSession.id,
                UserSession.user_id,
                UserSession.organization_id,
                UserSession.expires_at,
                UserSession.last_seen_at,
            ).where(
                UserSession.token_hash == hash_token(token),
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > now,
            )
        )
    ).first()
    if row is None:
        return None
    if now - row.last_seen_at >= LAST_SEEN_EVERY:
        await session.execute(
            update(UserSession)
            .where(UserSession.id == row.id, UserSession.last_seen_at < now)
            .values(last_seen_at=now)
        )
    return SessionOwner(row.id, row.user_id, row.organization_id, row.expires_at)


async def revoke_session(session: AsyncSession, token: str, *, now: dt.datetime) -> bool:
    """End the session of ``token``; False when it was not live (unknown, already ended). Raises
    `AccessRevoked`: its live subscriptions end as soon as the unit of work commits."""
    revoked = (
        await session.execute(
            update(UserSession)
            .where(UserSession.token_hash == hash_token(token), UserSession.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(UserSession.id, UserSession.user_id, UserSession.organization_id)
        )
    ).first()
    if revoked is None:
        return False
    session_id, user_id, organization_id = revoked
    raise_event(
        session,
        AccessRevoked(organization_id=organization_id, user_id=user_id, session_id=session_id),
    )
    return True
