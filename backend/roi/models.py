"""Table: ROI assumptions, one row per assumption per change (never updated, never deleted)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

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

from backend.database import Base, OrganizationRow, one_of, utcnow

# The action type of an assumption that holds for every action type (not a valid type name).
EVERY_ACTION_TYPE = "*"


class AssumptionName(StrEnum):
    """What an assumption is, and its unit."""

    LOADED_HOURLY_COST = "loaded_hourly_cost"  # money per hour of a rep's time
    MINUTES_PER_TASK = "minutes_per_task"  # a rep's minutes to do the action by hand
    VALUE_PER_SUCCESS = "value_per_success"  # money per successful outcome (e.g. pipeline)
    PLATFORM_COST_PER_ACTION = "platform_cost_per_action"  # money per action, beyond tokens
    MINUTES_PER_ESCALATION = "minutes_per_escalation"  # a person handling one escalation
    MINUTES_PER_PROMPT = "minutes_per_prompt"  # answering one feedback prompt
    MINUTES_PER_REVIEW = "minutes_per_review"  # reviewing one thread
    MINUTES_PER_LABEL = "minutes_per_label"  # labelling one ambiguous outcome
    WORKING_HOURS_PER_WEEK = "working_hours_per_week"  # one rep's: the bound on time saved


class RoiAssumption(OrganizationRow, Base):
    """One assumption as set by one change: its low / expected / high values, from
    ``effective_from`` on. A change is a new ``version`` (numbered per organisation) of the
    assumptions it names; what holds on a day is, per (name, action type), the row with the
    latest ``effective_from`` on or before it (the latest version among equals)."""

    __tablename__ = "roi_assumptions"
    __scope__ = "org"
    __table_args__ = (
        one_of("name", AssumptionName),
        CheckConstraint("low >= 0", name="low"),
        CheckConstraint("low <= expected AND expected <= high", name="expected"),
        CheckConstraint("version > 0", name="version"),
        UniqueConstraint("organization_id", "version", "name", "action_type"),
        Index(
            "ix_roi_assumptions_in_force",
            "organization_id",
            "name",
            "action_type",
            "effective_from",
        ),
    )

    name: Mapped[str] = mapped_column(String(40))
    action_type: Mapped[str] = mapped_column(String(40), default=EVERY_ACTION_TYPE)
    low: Mapped[float] = mapped_column(Float)
    expected: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    api_client_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_clients.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
