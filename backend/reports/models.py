"""Tables: report subscriptions, report runs (one per subscription and period) and the
deliveries of each run (one per channel: an e-mail or a Slack post, with retries)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, OrganizationRow, one_of, utcnow


class ReportKind(StrEnum):
    MANAGER_DAILY = "manager_daily"
    EXECUTIVE_WEEKLY = "executive_weekly"
    REP_WEEKLY = "rep_weekly"


class Cadence(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class ReportChannel(StrEnum):
    EMAIL = "email"
    SLACK = "slack"


class ReportRunStatus(StrEnum):
    PENDING = "pending"  # kept for rows written before runs were claimed as running
    RUNNING = "running"  # claimed by a worker (leased until `leased_until`), being rendered
    QUEUED = "queued"  # rendered; its deliveries are on their way
    SENT = "sent"  # every delivery went out
    FAILED = "failed"  # rendering or a delivery gave up; `error` says which
    SKIPPED = "skipped"  # not sent, on purpose: `error` says why (out of scope, inactive)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class ReportSubscription(OrganizationRow, Base):
    __tablename__ = "report_subscriptions"
    __scope__ = "user"
    __table_args__ = (
        one_of("kind", ReportKind),
        one_of("cadence", Cadence),
        CheckConstraint("send_hour BETWEEN 0 AND 23", name="send_hour"),
        CheckConstraint("weekday IS NULL OR weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("cadence = 'daily' OR weekday IS NOT NULL", name="weekday__weekly"),
        UniqueConstraint("user_id", "kind", "team_id"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    cadence: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    # A rep's weekly digest is about one of their agents.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    # e.g. ["email", "slack"]
    channels: Mapped[list[str]] = mapped_column(default=list)
    # Where the Slack summary goes: a channel id; none: a direct message to the recipient.
    slack_channel: Mapped[str | None] = mapped_column(String(80))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    send_hour: Mapped[int] = mapped_column(Integer, default=8)
    weekday: Mapped[int | None] = mapped_column(Integer)  # 0 = Monday, for weekly reports
    enabled: Mapped[bool] = mapped_column(default=True)
    # Set by the e-mail's one-click unsubscribe (which also disables it); cleared on re-enabling.
    unsubscribed_at: Mapped[dt.datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime | None]


class ReportRun(OrganizationRow, Base):
    """One period of one subscription: claimed by inserting it (the unique key makes that once
    across workers), rendered, then delivered."""

    __tablename__ = "report_runs"
    __scope__ = "user"
    __table_args__ = (
        one_of("status", ReportRunStatus),
        CheckConstraint("period_end > period_start", name="period_end"),
        CheckConstraint("attempts >= 0", name="attempts"),
        # A period is reported once per subscription, however many workers run.
        UniqueConstraint("subscription_id", "period_start"),
        # Runs a crashed worker left behind: running with their lease gone.
        Index(None, "status", "leased_until"),
    )

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("report_subscriptions.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str | None] = mapped_column(String(32))
    # The period's first and last-excluded days, at 00:00 UTC.
    period_start: Mapped[dt.datetime]
    period_end: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime | None]  # when the schedule said it was due
    status: Mapped[str] = mapped_column(String(16), default=ReportRunStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    leased_until: Mapped[dt.datetime | None]
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReportDelivery(OrganizationRow, Base):
    """One channel of one run: the e-mail (its MIME bytes, so a retry sends the same message)
    or the Slack post (its blocks, text and main chart), with the shared backoff."""

    __tablename__ = "report_deliveries"
    __scope__ = "user"
    __table_args__ = (
        one_of("channel", ReportChannel),
        one_of("status", DeliveryStatus),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="sent_at"),
        # Once per run and channel, whichever worker (or its successor) enqueues it.
        UniqueConstraint("run_id", "channel"),
        # The worker's claim: due pending rows, oldest first.
        Index(None, "status", "next_attempt_at"),
    )

    run_id: Mapped[int] = mapped_column(
        ForeignKey("report_runs.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(320))  # the address, or the Slack channel or user
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # E-mail: the whole message (.eml bytes). Slack: the main chart's PNG, if any.
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Slack: {"text", "blocks", "image_title", "filename"}.
    slack_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Every failed attempt: {"attempt": n, "at": iso time, "error": "..."}.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sent_at: Mapped[dt.datetime | None]
    # The e-mail's Message-ID, or the Slack message's ts.
    message_id: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
