"""Table: coaching insights, each with its effect size, evidence, audience, expiry, the
manager's decision and, once acted on, the effect measured afterwards."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, OrganizationRow, between, one_of, utcnow

NOTE_MAX_LENGTH = 1000


class InsightStatus(StrEnum):
    NEW = "new"  # raised, waiting for a manager's decision
    ACTED_ON = "acted_on"  # a manager acted on it: its effect is measured afterwards
    DISMISSED = "dismissed"  # not raised again for a while unless the evidence grows
    EXPIRED = "expired"  # nobody decided before its expiry


class InsightAudience(StrEnum):
    MANAGER = "manager"  # for the team's managers (e.g. one agent apart from the team)
    REP = "rep"  # advice the team's reps can follow themselves


class InsightDirection(StrEnum):
    HIGHER = "higher"
    LOWER = "lower"


class CoachingInsight(OrganizationRow, Base):
    __tablename__ = "coaching_insights"
    __scope__ = "team"
    __table_args__ = (
        one_of("status", InsightStatus),
        one_of("audience", InsightAudience),
        one_of("direction", InsightDirection),
        one_of("measure", ("success_rate", "mean_outcome")),
        CheckConstraint("support > 0", name="support"),
        CheckConstraint("sample_size > support", name="sample_size"),
        between("rate", 0, 1),
        between("baseline_rate", 0, 1),
        between("p_value", 0, 1),
        between("q_value", 0, 1),
        between("confidence_level", 0, 1),
        CheckConstraint("ci_low <= ci_high", name="ci_high"),
        CheckConstraint("period_end >= period_start", name="period_end"),
        # Decided exactly when acted on or dismissed.
        CheckConstraint(
            "(status IN ('acted_on', 'dismissed') AND decided_at IS NOT NULL)"
            " OR (status IN ('new', 'expired') AND decided_at IS NULL)",
            name="decided_at__decided",
        ),
        CheckConstraint(
            f"decision_note IS NULL OR length(decision_note) <= {NOTE_MAX_LENGTH}",
            name="decision_note",
        ),
        between("follow_up_rate", 0, 1, nullable=True),
        between("follow_up_before_rate", 0, 1, nullable=True),
        # A rerun over the same period finds the same row (idempotent).
        UniqueConstraint(
            "team_id",
            "outcome_type",
            "feature",
            "feature_value",
            "period_end",
            name="uq_coaching_insights_period",
        ),
        # A team's list, by status, newest first.
        Index(
            "ix_coaching_insights_team_list",
            "organization_id",
            "team_id",
            "status",
            "created_at",
            "id",
        ),
    )

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    # The outcome whose rate differs: an outcome type (e.g. email_reply), or "human_rating".
    outcome_type: Mapped[str] = mapped_column(String(40))
    feature: Mapped[str] = mapped_column(String(64))
    feature_value: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(8))
    audience: Mapped[str] = mapped_column(String(8))
    statement: Mapped[str] = mapped_column(String(1000))
    advice: Mapped[str] = mapped_column(String(1000))
    measure: Mapped[str] = mapped_column(String(16))
    support: Mapped[int] = mapped_column(Integer)  # actions with the feature value
    sample_size: Mapped[int] = mapped_column(Integer)  # actions compared, in and out of it
    rate: Mapped[float] = mapped_column(Float)
    baseline_rate: Mapped[float] = mapped_column(Float)  # the rest of the actions
    difference: Mapped[float] = mapped_column(Float)
    ci_low: Mapped[float] = mapped_column(Float)
    ci_high: Mapped[float] = mapped_column(Float)
    confidence_level: Mapped[float] = mapped_column(Float)
    lift: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    q_value: Mapped[float] = mapped_column(Float)
    test: Mapped[str] = mapped_column(String(32))
    # candidates_tested, fdr, min_support, adjusted odds ratio and its p, example action ids.
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The UTC days of the actions mined (all of whose outcome windows had closed).
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    expires_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default=InsightStatus.NEW.value)
    decided_at: Mapped[dt.datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision_note: Mapped[str | None] = mapped_column(String(NOTE_MAX_LENGTH))
    # After acting: the team's outcome rate on actions taken after the decision, against the
    # insight's own period, and the share of actions with the feature value then and before.
    follow_up_n: Mapped[int | None] = mapped_column(Integer)
    follow_up_rate: Mapped[float | None] = mapped_column(Float)
    follow_up_before_rate: Mapped[float | None] = mapped_column(Float)
    follow_up_difference: Mapped[float | None] = mapped_column(Float)
    follow_up_ci_low: Mapped[float | None] = mapped_column(Float)
    follow_up_ci_high: Mapped[float | None] = mapped_column(Float)
    follow_up_p_value: Mapped[float | None] = mapped_column(Float)
    follow_up_share: Mapped[float | None] = mapped_column(Float)
    follow_up_before_share: Mapped[float | None] = mapped_column(Float)
    follow_up_period_end: Mapped[dt.date | None] = mapped_column(Date)
    follow_up_measured_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
