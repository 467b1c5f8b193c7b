"""Tables: alert rules and alert events."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, OrganizationRow, one_of, utcnow


class AlertCondition(StrEnum):
    ABOVE = "above"
    BELOW = "below"
    ANOMALY = "anomaly"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertRule(OrganizationRow, Base):
    __tablename__ = "alert_rules"
    __scope__ = "team"
    __table_args__ = (
        one_of("condition", AlertCondition),
        one_of("severity", Severity),
        CheckConstraint("condition = 'anomaly' OR threshold IS NOT NULL", name="threshold"),
        CheckConstraint("window_days BETWEEN 1 AND 365", name="window_days"),
        CheckConstraint("scope IN ('organization', 'team', 'agent')", name="scope"),
        CheckConstraint(
            "(scope = 'organization' AND team_id IS NULL AND agent_id IS NULL)"
            " OR (scope = 'team' AND team_id IS NOT NULL AND agent_id IS NULL)"
            " OR (scope = 'agent' AND agent_id IS NOT NULL)",
            name="scope__target",
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    # e.g. "reply_rate", "escalation_rate", "calibration_error", "cost_per_interaction".
    metric: Mapped[str] = mapped_column(String(64))
    action_type: Mapped[str | None] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(16), default="organization")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    condition: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[float | None] = mapped_column(Float)
    window_days: Mapped[int] = mapped_column(Integer, default=7)
    severity: Mapped[str] = mapped_column(String(16), default=Severity.WARNING.value)
    # Where to deliver: e.g. ["dashboard", "email", "slack"].
    channels: Mapped[list[str]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertEvent(OrganizationRow, Base):
    __tablename__ = "alert_events"
    __scope__ = "team"
    __table_args__ = (
        one_of("severity", Severity),
        # One event per rule and evaluation period, however often the worker looks.
        UniqueConstraint("organization_id", "dedupe_key"),
        Index(None, "organization_id", "fired_at"),
    )

    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    observed: Mapped[float | None] = mapped_column(Float)
    expected: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(String(1000))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    fired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
