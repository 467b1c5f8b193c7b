"""Tables: alert rules (with their audit trail) and alerts (one open per rule and subject)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, OrganizationRow, one_of, utcnow


class RuleKind(StrEnum):
    THRESHOLD = "threshold"  # a metric above/below a value over a trailing window
    ANOMALY = "anomaly"  # a day off the metric's own weekday baseline
    DRIFT = "drift"  # a sustained shift (CUSUM)
    CALIBRATION = "calibration"  # a verdict turned miscalibrated, or its error passed a bound
    POLICY = "policy"  # automation moved a threshold; a policy was frozen or rolled back


class Direction(StrEnum):
    ABOVE = "above"
    BELOW = "below"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(StrEnum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class RuleChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DISABLED = "disabled"
    ENABLED = "enabled"
    DELETED = "deleted"


class AlertRule(OrganizationRow, Base):
    __tablename__ = "alert_rules"
    __scope__ = "team"
    __table_args__ = (
        one_of("kind", RuleKind),
        one_of("direction", Direction),
        one_of("severity", Severity),
        CheckConstraint("kind <> 'threshold' OR threshold IS NOT NULL", name="threshold"),
        CheckConstraint(
            "kind <> 'threshold' OR direction IS NOT NULL", name="direction__threshold"
        ),
        CheckConstraint("window_days BETWEEN 1 AND 365", name="window_days"),
        CheckConstraint("hold_hours BETWEEN 0 AND 720", name="hold_hours"),
        CheckConstraint(
            "remind_after_minutes IS NULL OR remind_after_minutes BETWEEN 5 AND 10080",
            name="remind_after_minutes",
        ),
        CheckConstraint("scope IN ('organization', 'team', 'agent')", name="scope"),
        CheckConstraint(
            "(scope = 'organization' AND team_id IS NULL AND agent_id IS NULL)"
            " OR (scope = 'team' AND team_id IS NOT NULL AND agent_id IS NULL)"
            " OR (scope = 'agent' AND agent_id IS NOT NULL)",
            name="scope__target",
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    # e.g. "reply_rate", "escalation_rate", "calibration_error" (`backend.alerts.metrics`).
    metric: Mapped[str] = mapped_column(String(64))
    action_type: Mapped[str | None] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(16), default="organization")
    # An agent's rule keeps the agent's team too, so its managers find it.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    # Threshold: fire above/below; anomaly and drift: only drops (below) or spikes (above),
    # both when null.
    direction: Mapped[str | None] = mapped_column(String(8))
    threshold: Mapped[float | None] = mapped_column(Float)
    # Hysteresis: an open threshold alert clears only past this value (default: 10 % of the
    # threshold back on the good side), so a metric hovering at the threshold does not flap.
    clear_threshold: Mapped[float | None] = mapped_column(Float)
    window_days: Mapped[int] = mapped_column(Integer, default=7)
    # How long the condition must stay cleared before the alert resolves itself.
    hold_hours: Mapped[int] = mapped_column(Integer, default=24)
    severity: Mapped[str] = mapped_column(String(16), default=Severity.WARNING.value)
    # Where to deliver: e.g. ["dashboard", "email", "slack"].
    channels: Mapped[list[str]] = mapped_column(default=list)
    # Slack: the channel to post to (an id such as "C0123ABCD"); none: the installation's
    # default channel.
    slack_channel: Mapped[str | None] = mapped_column(String(80))
    # A firing alert nobody acknowledged is announced again ("reminded") after this many
    # minutes, and again each period after, at most MAX_REMINDERS times (`alerts.reminders`);
    # none: critical rules every DEFAULT_REMIND_AFTER, others never.
    remind_after_minutes: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime | None]
    # Deleted rules stay (their alerts and audit point at them) but are never evaluated.
    deleted_at: Mapped[dt.datetime | None]


class AlertRuleChange(OrganizationRow, Base):
    """Who created, changed, disabled or deleted a rule, when, and what it was before/after."""

    __tablename__ = "alert_rule_changes"
    __scope__ = "team"
    __table_args__ = (one_of("change", RuleChangeKind), Index(None, "rule_id", "changed_at"))

    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    change: Mapped[str] = mapped_column(String(16))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]


class Alert(OrganizationRow, Base):
    """What a rule found about one subject (the rule's scope, or an agent and action type for
    calibration and policy rules): firing -> acknowledged -> resolved."""

    __tablename__ = "alerts"
    __scope__ = "team"
    __table_args__ = (
        one_of("state", AlertState),
        one_of("severity", Severity),
        # One open alert per rule and subject: `open_key` is the subject while the alert is
        # open and NULL once resolved (NULLs never collide), so two evaluations at once insert
        # one row and the other finds it.
        UniqueConstraint("organization_id", "rule_id", "open_key"),
        CheckConstraint("(state = 'resolved') = (open_key IS NULL)", name="open_key"),
        Index(None, "organization_id", "fired_at", "id"),
    )

    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(120))  # e.g. "team:3", "agent:7:email"
    open_key: Mapped[str | None] = mapped_column(String(120))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str] = mapped_column(String(64))
    action_type: Mapped[str | None] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=AlertState.FIRING.value)
    observed: Mapped[float | None] = mapped_column(Float)
    expected: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(String(1000))
    # The values, the baseline, the window, and the ids to open next.
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # condition last held
    cleared_at: Mapped[dt.datetime | None]  # condition cleared since (None while it holds)
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[dt.datetime | None]
    # A person, or NULL with `resolved_at` set: resolved by itself once the condition cleared.
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    snoozed_until: Mapped[dt.datetime | None]
    snoozed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Reminders sent while it went unacknowledged, and the last one's time.
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    reminded_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
