"""Tables: feedback_prompts (a request for a person's judgment of one action, and its fate) and
prompt_budgets (how many prompts a person got on a day)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, OrganizationRow, one_of, utcnow
from backend.feedback.models import FeedbackChannel


class PromptReason(StrEnum):
    """Why the person was asked."""

    CRITICAL_ACTION = "critical_action"  # an escalation or a stage change: always worth asking
    UNCERTAIN_CONFIDENCE = "uncertain_confidence"  # calibrated confidence near a coin flip
    OUTCOME_DISAGREEMENT = "outcome_disagreement"  # confident, and the outcome went the other way


class PromptState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    EXPIRED = "expired"


class FeedbackPrompt(OrganizationRow, Base):
    __tablename__ = "feedback_prompts"
    # Rows belong to the action's agent (denormalised), so managers see their teams' prompts.
    __scope__ = "agent"
    __table_args__ = (
        # One prompt per person and action, whatever asks again (a retried action, a second
        # suggestion run).
        UniqueConstraint("action_id", "user_id"),
        one_of("reason", PromptReason),
        one_of("state", PromptState),
        one_of("answered_channel", FeedbackChannel),
        CheckConstraint("(state = 'answered') = (answered_at IS NOT NULL)", name="answered_at"),
        CheckConstraint("expires_at > created_at", name="expires_at"),
        # A person's open prompts, newest first; the worker's expiry and reminder scans.
        Index(None, "user_id", "state", "created_at"),
        Index(None, "state", "expires_at"),
        # A team's or agent's prompts due in a window (an alert rule's metric).
        Index(None, "agent_id", "expires_at"),
    )

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("agent_actions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(16), default=PromptState.OPEN.value)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    reminded_at: Mapped[dt.datetime | None]
    answered_at: Mapped[dt.datetime | None]
    answered_channel: Mapped[str | None] = mapped_column(String(16))
    feedback_id: Mapped[int | None] = mapped_column(ForeignKey("feedback.id", ondelete="SET NULL"))


class PromptBudget(OrganizationRow, Base):
    """Prompts a person received on a (UTC) day: taken by an atomic conditional increment, so
    concurrent writers never exceed the budget."""

    __tablename__ = "prompt_budgets"
    __scope__ = "user"
    __table_args__ = (
        UniqueConstraint("user_id", "day"),
        CheckConstraint("used >= 0", name="used"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[dt.date] = mapped_column(Date)
    used: Mapped[int] = mapped_column(Integer, default=0)
