"""Table: API clients (the Sales Agent's and partners' keys, stored hashed)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
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
