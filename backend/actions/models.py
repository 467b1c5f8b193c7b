"""Table: agent actions (type, stated confidence, criticality, cost and links)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, DailyRollupRow, OrganizationRow, between, utcnow

ACTION_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # lower_snake_case, <= 40 characters
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # no action or signal is older


class ActionType(StrEnum):
    """Known action types. Stored as text, so a new type is a code change, not a migration."""

    EMAIL = "email"
    MEETING = "meeting"
    ESCALATION = "escalation"
    STAGE_PROGRESSION = "stage_progression"
    FOLLOW_UP = "follow_up"

    @property
    def is_critical(self) -> bool:
        """Escalations and stage changes are critical: humans are prompted on them."""
        return self in (ActionType.ESCALATION, ActionType.STAGE_PROGRESSION)


class Decision(StrEnum):
    """What the policy told the agent to do with an action at its confidence."""

    ACT = "act"
    REVIEW = "review"
    ESCALATE = "escalate"


class AgentAction(OrganizationRow, Base):
    __tablename__ = "agent_actions"
    __scope__ = "agent"
    __table_args__ = (
        UniqueConstraint("agent_id", "idempotency_key"),
        between("confidence", 0, 1),
        between("calibrated_confidence", 0, 1, nullable=True),
        CheckConstraint("cost_amount >= 0", name="cost_amount"),
        CheckConstraint("cost_tokens >= 0", name="cost_tokens"),
        CheckConstraint(
            "decision IS NULL OR decision IN ('act', 'review', 'escalate')", name="decision"
        ),
        # Action types are lower_snake identifiers; the list itself can grow without migration.
        CheckConstraint("length(action_type) BETWEEN 1 AND 40", name="action_type"),
        Index(None, "organization_id", "agent_id", "action_type", "occurred_at"),
        # Lists and ranges of one agent's actions, newest first; then the organisation's.
        Index(None, "organization_id", "agent_id", "occurred_at", "id"),
        Index(None, "organization_id", "occurred_at", "id"),
    )

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    action_type: Mapped[str] = mapped_column(String(40))
    confidence: Mapped[float] = mapped_column(Float)
    calibrated_confidence: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[str | None] = mapped_column(String(16))
    is_critical: Mapped[bool] = mapped_column(default=False)
    cost_amount: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal(0))
    cost_currency: Mapped[str] = mapped_column(String(3), default="USD")
    cost_tokens: Mapped[int] = mapped_column(Integer, default=0)
    deal_id: Mapped[int | None] = mapped_column(
        ForeignKey("deals.id", ondelete="SET NULL"), index=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    occurred_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ActionStat(DailyRollupRow, Base):
    """Daily sums of one agent's actions of one type and cost currency (by the UTC day they were
    taken): what the dashboards read instead of the actions. ``backend.actions.rollup`` adds to
    them in each action's own unit of work."""

    __tablename__ = "action_stats"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "agent_id", "day", "action_type", "currency"),
        Index(None, "organization_id", "day"),
    )

    action_type: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    actions: Mapped[int] = mapped_column(Integer, default=0)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    critical: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[Decimal] = mapped_column(Numeric(18, 6), default=Decimal(0))
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
