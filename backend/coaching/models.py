"""Table: coaching insights, each with its effect size, evidence and certainty."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, OrganizationRow, between, one_of, utcnow


class InsightStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"


class CoachingInsight(OrganizationRow, Base):
    __tablename__ = "coaching_insights"
    __scope__ = "team"
    __table_args__ = (
        one_of("status", InsightStatus),
        CheckConstraint("support > 0", name="support"),
        between("rate", 0, 1),
        between("baseline_rate", 0, 1),
        between("p_value", 0, 1),
        between("q_value", 0, 1),
        CheckConstraint("ci_low <= ci_high", name="ci_high"),
        CheckConstraint("period_end >= period_start", name="period_end"),
    )

    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    action_type: Mapped[str | None] = mapped_column(String(40))
    feature: Mapped[str] = mapped_column(String(64))
    feature_value: Mapped[str] = mapped_column(String(200))
    statement: Mapped[str] = mapped_column(String(1000))
    support: Mapped[int] = mapped_column(Integer)
    rate: Mapped[float] = mapped_column(Float)
    baseline_rate: Mapped[float] = mapped_column(Float)
    difference: Mapped[float] = mapped_column(Float)
    ci_low: Mapped[float] = mapped_column(Float)
    ci_high: Mapped[float] = mapped_column(Float)
    lift: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    q_value: Mapped[float] = mapped_column(Float)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=InsightStatus.NEW.value)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
