"""Tables: API clients (the Sales Agent's and partners' keys, stored hashed), e-mailed
sign-in links and the sessions of signed-in browsers (their tokens stored hashed too)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, OrganizationRow, one_of, utcnow


class ApiClientKind(StrEnum):
    AGENT = "agent"
    PARTNER = "partner"


class ApiClient(OrganizationRow, Base):
    __tablename__ = "api_clients"
    __scope__ = "org"
    __table_args__ = (
        one_of("kind", ApiClientKind),
        # An agent key acts for exactly one agent; a partner key for none.
        CheckConstraint(
            "(kind = 'agent' AND agent_id IS NOT NULL) OR (kind = 'partner' AND agent_id IS NULL)",
            name="agent_id",
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    # The key is shown once; we keep a public prefix for lookup and a SHA-256 of the whole key.
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]


class SignInLink(OrganizationRow, Base):
    """One e-mailed sign-in link: single use, short-lived. Only the SHA-256 of its token is
    kept; the rows of the last minutes are also what the requests are rate-limited by."""

    __tablename__ = "sign_in_links"
    __scope__ = "user"
    __table_args__ = (
        Index(None, "user_id", "created_at"),
        Index(None, "client_ip", "created_at"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    client_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class UserSession(OrganizationRow, Base):
    """A signed-in browser: the session cookie's token, of which only the SHA-256 is kept. It
    ends at ``expires_at`` (fixed at sign-in, not extended by use) or when revoked (sign-out)."""

    __tablename__ = "user_sessions"
    __scope__ = "user"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The link it was opened with (none: the development one-click sign-in); unique, so one
    # link opens one session even if two redeems raced past each other.
    sign_in_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("sign_in_links.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    user_agent: Mapped[str | None] = mapped_column(String(300))
