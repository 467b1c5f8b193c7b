"""Table: outcomes (one per action and outcome type, resolved inside its window)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, DailyRollupRow, OrganizationRow, between, one_of, utcnow


class OutcomeWindow(StrEnum):
    IMMEDIATE_24H = "immediate_24h"
    ENGAGEMENT_7D = "engagement_7d"
    DEAL_30D = "deal_30d"
    EVENT = "event"


class Detection(StrEnum):
    AUTOMATIC = "automatic"
    HUMAN = "human"
    PENDING_LABEL = "pending_label"


class OutcomeStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    NEEDS_LABEL = "needs_label"


class Outcome(OrganizationRow, Base):
    __tablename__ = "outcomes"
    __scope__ = "agent"
    __table_args__ = (
        UniqueConstraint("action_id", "outcome_type"),
        one_of('"window"', OutcomeWindow, name="window"),  # WINDOW is reserved in PostgreSQL
        one_of("detection", Detection),
        one_of("status", OutcomeStatus),
        between("value", 0, 1, nullable=True),
        CheckConstraint("level IS NULL OR level >= 0", name="level"),
        # A resolved outcome has its value; an unresolved one has none yet.
        CheckConstraint(
            "(status = 'resolved' AND value IS NOT NULL AND resolved_at IS NOT NULL)"
            " OR (status <> 'resolved' AND value IS NULL)",
            name="value__resolved",
        ),
        # The worker's claim query: open windows by due time.
        Index(None, "status", "due_at"),
        Index(None, "organization_id", "agent_id", "status"),
        # The organisation's labelling queue (its oldest wait: an alert rule's metric).
        Index(None, "organization_id", "status"),
        # Lists and ranges by the outcome's own time (an action's windows open when it is
        # taken), one agent's and the organisation's.
        Index(None, "organization_id", "agent_id", "opened_at", "id"),
        Index(None, "organization_id", "opened_at", "id"),
    )

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    action_id: Mapped[int] = mapped_column(ForeignKey("agent_actions.id", ondelete="CASCADE"))
    # Denormalised from the action so calibration can be rolled up without a join.
    action_type: Mapped[str] = mapped_column(String(40))
    outcome_type: Mapped[str] = mapped_column(String(40))
    window: Mapped[str] = mapped_column(String(16))
    scale: Mapped[str] = mapped_column(String(40))
    level: Mapped[int | None] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float)
    detection: Mapped[str] = mapped_column(String(16), default=Detection.AUTOMATIC.value)
    status: Mapped[str] = mapped_column(String(16), default=OutcomeStatus.OPEN.value)
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # End of the window; for event-based outcomes, when a person is asked instead.
    due_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    signal_id: Mapped[int | None] = mapped_column(ForeignKey("signals.id", ondelete="SET NULL"))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Why a person must label it (ambiguous signal, expired event window), when it needs a label.
    label_reason: Mapped[str | None] = mapped_column(String(300))
    # Weak evidence that never resolves on its own (opens, clicks) and notes such as a deal
    # that moved backwards, e.g. {"opens": 2, "clicks": 1, "backward_moves": 1}.
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OutcomeLabel(OrganizationRow, Base):
    """Audit of every human label: who, when, and the state it replaced (corrections too)."""

    __tablename__ = "outcome_labels"
    __scope__ = "agent"
    __table_args__ = (
        # the people's labelling work in a range (the ROI's human time)
        Index(None, "organization_id", "created_at"),
        one_of("previous_status", OutcomeStatus),
        between("previous_value", 0, 1, nullable=True),
        between("value", 0, 1),
    )

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    outcome_id: Mapped[int] = mapped_column(
        ForeignKey("outcomes.id", ondelete="CASCADE"), index=True
    )
    labeled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # An API client (the agent stating an outcome) when no person labelled it.
    api_client_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_clients.id", ondelete="SET NULL")
    )
    previous_status: Mapped[str] = mapped_column(String(16))
    previous_level: Mapped[int | None] = mapped_column(Integer)
    previous_value: Mapped[float | None] = mapped_column(Float)
    level: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OutcomeStat(DailyRollupRow, Base):
    """Daily sums of one agent's outcomes of one action and outcome type, by the UTC day the
    action was taken: decided outcomes (count, sum of values) apart from those still open or
    waiting for a label, so a day whose windows are still open reads as provisional.
    ``backend.outcomes.rollup`` keeps them in each outcome change's own unit of work."""

    __tablename__ = "outcome_stats"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "agent_id", "day", "action_type", "outcome_type"),
        Index(None, "organization_id", "day"),
    )

    action_type: Mapped[str] = mapped_column(String(40))
    outcome_type: Mapped[str] = mapped_column(String(40))
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[float] = mapped_column(Float, default=0.0)
    pending: Mapped[int] = mapped_column(Integer, default=0)
