"""Table: outcomes (one per action and outcome type, resolved inside its window)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, BigId, between, one_of, utcnow


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


class Outcome(Base):
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
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
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
    # End of the window; null for event-based outcomes that wait for their event.
    due_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    signal_id: Mapped[int | None] = mapped_column(ForeignKey("signals.id", ondelete="SET NULL"))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
