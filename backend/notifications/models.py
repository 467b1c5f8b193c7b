"""Tables: the outbox of notifications (alert e-mails), one row per message and recipient."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, OrganizationRow, one_of, utcnow


class Channel(StrEnum):
    EMAIL = "email"


class NotificationStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or for SMTP to be configured)
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt; its errors are kept


class Notification(OrganizationRow, Base):
    """One message to one person about one change of an alert. The idempotency key names the
    change and the recipient, so a retried event enqueues nothing more."""

    __tablename__ = "notifications"
    __scope__ = "user"
    __table_args__ = (
        one_of("channel", Channel),
        one_of("status", NotificationStatus),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="sent_at"),
        # The worker's claim: due pending rows, oldest first.
        Index(None, "status", "next_attempt_at"),
    )

    channel: Mapped[str] = mapped_column(String(16), default=Channel.EMAIL.value)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    change: Mapped[str] = mapped_column(String(16))  # created, acknowledged, resolved, snoozed
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=NotificationStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Every failed attempt: {"attempt": n, "at": iso time, "error": "..."}.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
