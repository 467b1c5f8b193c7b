"""Signing in to the dashboard by e-mail link: ask for a link, redeem it for a session, sign out;
and the development one-click sign-in of the demo's people.

Asking for a link answers the same whether the address belongs to someone or not (the caller
shows one page either way), and sends nothing past the rate limits. A link is good once, for
LINK_TTL: redeeming is one guarded UPDATE (unused and unexpired), so two redeems racing each
other open one session. Only tokens' SHA-256 are stored.
"""

from __future__ import annotations

import datetime as dt
import html
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import quote

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import SignInLink
from backend.auth.service import viewer_of_session
from backend.auth.sessions import (
    OpenedSession,
    SessionOwner,
    clipped,
    is_session_token,
    new_token,
    open_session,
    revoke_session,
)
from backend.auth.tokens import hash_token
from backend.errors import DomainError, ErrorCode, flush
from backend.orgs.models import Organization, Role, User
from backend.state import AppState
from backend.viewer import Viewer

LINK_TTL = dt.timedelta(minutes=15)
RATE_WINDOW = dt.timedelta(minutes=15)
LINKS_PER_ADDRESS = 5  # links sent to one address per RATE_WINDOW
LINKS_PER_CLIENT = 20  # links asked from one client address per RATE_WINDOW
DEMO_ORGANIZATION = "demo"  # whose people development offers for one-click sign-in
LINK_PATH = "/auth/link"
MAX_ADDRESS_LENGTH = 320


def normalized_address(email: str) -> str | None:
    """The address as users are stored (trimmed, lower case); None when it cannot be one."""
    address = email.strip().lower()
    local, at, domain = address.partition("@")
    if not (at and local and domain) or len(address) > MAX_ADDRESS_LENGTH:
        return None
    if any(c.isspace() for c in address):
        return None
    return address


@dataclass(frozen=True)
class LinkToSend:
    """A new link for one person: mail it after commit (the token is never stored)."""

    address: str
    name: str
    token: str
    expires_at: dt.datetime


async def request_link(
    session: AsyncSession,
    *,
    address: str,
    now: dt.datetime,
    client_ip: str | None = None,
    user_agent: str | None = None,
) -> LinkToSend | None:
    """A new sign-in link for the active user of ``address``, or None when there is nothing to
    send: nobody active has that address, or a rate limit is reached (LINKS_PER_ADDRESS, or
    LINKS_PER_CLIENT from ``client_ip``, per RATE_WINDOW). Callers answer the same either way.

    The limits are counted from the links of the window: two requests racing each other may
    both pass the last free place (one link more, never a flood)."""
    user = await session.scalar(select(User).where(User.email == address, User.active.is_(True)))
    if user is None:
        return None
    since = now - RATE_WINDOW
    recent = select(func.count()).select_from(SignInLink).where(SignInLink.created_at > since)
    to_address = await session.scalar(recent.where(SignInLink.user_id == user.id)) or 0
    if to_address >= LINKS_PER_ADDRESS:
        return None
    if client_ip is not None:
        from_client = await session.scalar(recent.where(SignInLink.client_ip == client_ip)) or 0
        if from_client >= LINKS_PER_CLIENT:
            return None
    token = new_token()
    link = SignInLink(
        organization_id=user.organization_id,
        user_id=user.id,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + LINK_TTL,
        client_ip=client_ip,
        user_agent=clipped(user_agent),
    )
    session.add(link)
    await flush(session)
    return LinkToSend(user.email, user.name, token, link.expires_at)


async def link_is_usable(session: AsyncSession, token: str, *, now: dt.datetime) -> bool:
    """Whether ``token`` is an unused, unexpired link (a read: showing the page uses nothing)."""
    found = await session.scalar(
        select(SignInLink.id).where(
            SignInLink.token_hash == hash_token(token),
            SignInLink.used_at.is_(None),
            SignInLink.expires_at > now,
        )
    )
    return found is not None


async def redeem_link(
    session: AsyncSession,
    token: str,
    *,
    now: dt.datetime,
    ttl: dt.timedelta,
    user_agent: str | None = None,
) -> OpenedSession | None:
    """A new session for the person of an unused, unexpired link, which is used up at once; None
    for anything else (unknown, used, expired link, or its person no longer active)."""
    claimed = (
        await session.execute(
            update(SignInLink)
            .where(
                SignInLink.token_hash == hash_token(token),
                SignInLink.used_at.is_(None),
                SignInLink.expires_at > now,
            )
            .values(used_at=now)
            .returning(SignInLink.id, SignInLink.user_id, SignInLink.organization_id)
        )
    ).first()
    if claimed is None:
        return None
    link_id, user_id, organization_id = claimed
    active = await session.scalar(
        select(User.active).where(User.id == user_id, User.organization_id == organization_id)
    )
    if not active:
        return None
    return await open_session(
        session,
        user_id=user_id,
        organization_id=organization_id,
        now=now,
        ttl=ttl,
        user_agent=user_agent,
        sign_in_link_id=link_id,
    )


async def sign_out(session: AsyncSession, token: str, *, now: dt.datetime) -> bool:
    """Revoke the session of a cookie's token; False when it was not live."""
    return await revoke_session(session, token, now=now)


async def viewer_of_cookie(state: AppState, token: str) -> tuple[Viewer, SessionOwner]:
    """Who the session cookie's token signs in, by the process clock, and their session;
    refuses (`unauthenticated`) a token of no live session or of an inactive person."""
    if not is_session_token(token):
        raise DomainError(ErrorCode.UNAUTHENTICATED, "signed out, or the session expired")
    async with state.sessions() as session:
        found = await viewer_of_session(session, token, now=state.now())
        await session.commit()  # when the session was last seen
    return found


_ROLE_ORDER = {Role.EXECUTIVE.value: 0, Role.ADMIN.value: 1, Role.MANAGER.value: 2}


async def demo_people(session: AsyncSession) -> list[User]:
    """The active people of the demo organisation (none when it is not seeded): executives,
    administrators, managers, then reps, each by address."""
    people = (
        await session.scalars(
            select(User)
            .join(Organization, Organization.id == User.organization_id)
            .where(Organization.slug == DEMO_ORGANIZATION, User.active.is_(True))
        )
    ).all()
    return sorted(people, key=lambda u: (_ROLE_ORDER.get(u.role, 3), len(u.email), u.email))


async def open_demo_session(
    session: AsyncSession,
    user_id: int,
    *,
    now: dt.datetime,
    ttl: dt.timedelta,
    user_agent: str | None = None,
) -> OpenedSession | None:
    """A session for one of the demo's people, without a link (development only: the caller
    checks); None for anyone else."""
    person = next((u for u in await demo_people(session) if u.id == user_id), None)
    if person is None:
        return None
    return await open_session(
        session,
        user_id=person.id,
        organization_id=person.organization_id,
        now=now,
        ttl=ttl,
        user_agent=user_agent,
    )


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{LINK_PATH}?token={quote(token)}"


def sign_in_email(link: LinkToSend, *, url: str, sender: str, now: dt.datetime) -> EmailMessage:
    """The e-mail of a sign-in link: plain text, then HTML."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = link.address
    message["Subject"] = "Your sign-in link"
    message["Date"] = format_datetime(now)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<sign-in-{secrets.token_hex(12)}@{domain}>"
    minutes = int(LINK_TTL.total_seconds() // 60)
    message.set_content(
        f"Hello {link.name},\n\n"
        f"Open this link to sign in to the Sales Agent dashboard:\n\n{url}\n\n"
        f"It works once, for {minutes} minutes. If you did not ask for it, ignore this e-mail: "
        "nobody can sign in with it but you.\n"
    )
    href = html.escape(url, quote=True)
    message.add_alternative(
        f"<p>Hello {html.escape(link.name)},</p>"
        "<p>Open this link to sign in to the Sales Agent dashboard:</p>"
        f'<p><a href="{href}">Sign in</a></p>'
        f"<p>It works once, for {minutes} minutes. If you did not ask for it, ignore this "
        "e-mail: nobody can sign in with it but you.</p>",
        subtype="html",
    )
    return message
