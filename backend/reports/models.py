"""Tables: report subscriptions and report runs."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, OrganizationRow, one_of, utcnow


class ReportKind(StrEnum):
    MANAGER_DAILY = "manager_daily"
    EXECUTIVE_WEEKLY = "executive_weekly"
    REP_WEEKLY = "rep_weekly"


class Cadence(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class ReportRunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
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
    # e.g. ["email", "slack"]
    channels: Mapped[list[str]] = mapped_column(default=list)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    send_hour: Mapped[int] = mapped_column(Integer, default=8)
    weekday: Mapped[int | None] = mapped_column(Integer)  # 0 = Monday, for weekly reports
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReportRun(OrganizationRow, Base):
    __tablename__ = "report_runs"
    __scope__ = "user"
    __table_args__ = (
        one_of("status", ReportRunStatus),
        CheckConstraint("period_end > period_start", name="period_end"),
        # A period is reported once per subscription, however many workers run.
        UniqueConstraint("subscription_id", "period_start"),
    )

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("report_subscriptions.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    period_start: Mapped[dt.datetime]
    period_end: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default=ReportRunStatus.PENDING.value)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
