"""Table: feedback (a rating on its target's scale, an optional comment, where it came from)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, DailyRollupRow, OrganizationRow, one_of, utcnow

COMMENT_MAX_LENGTH = 2000


class FeedbackTarget(StrEnum):
    MESSAGE = "message"  # thumbs: 0 = down, 1 = up
    ACTION = "action"  # a decision, 1..5
    CONVERSATION = "conversation"  # a thread review, 1..5 with optional per-criterion ratings


def judged_wrong(target_type: str, rating: int) -> bool:
    """A rating that judges the agent's work wrong (so a person redid it): a thumbs down on a
    message, 1 or 2 of 5 on an action. A thread review judges no single piece of work."""
    if target_type == FeedbackTarget.MESSAGE:
        return rating == 0
    return target_type == FeedbackTarget.ACTION and rating <= 2


class FeedbackChannel(StrEnum):
    SLACK = "slack"
    GMAIL = "gmail"
    DASHBOARD = "dashboard"
    API = "api"


class Feedback(OrganizationRow, Base):
    __tablename__ = "feedback"
    __scope__ = "agent"
    __table_args__ = (
        one_of("target_type", FeedbackTarget),
        one_of("channel", FeedbackChannel),
        # Exactly the id of the target type is set.
        CheckConstraint(
            "(target_type = 'message' AND message_id IS NOT NULL AND action_id IS NULL"
            " AND conversation_id IS NULL)"
            " OR (target_type = 'action' AND action_id IS NOT NULL AND message_id IS NULL"
            " AND conversation_id IS NULL)"
            " OR (target_type = 'conversation' AND conversation_id IS NOT NULL"
            " AND message_id IS NULL AND action_id IS NULL)",
            name="target_type__one_target",
        ),
        # The rating lies on its target's scale.
        CheckConstraint(
            "(target_type = 'message' AND rating IN (0, 1))"
            " OR (target_type IN ('action', 'conversation') AND rating BETWEEN 1 AND 5)",
            name="rating",
        ),
        CheckConstraint(
            f"comment IS NULL OR length(comment) <= {COMMENT_MAX_LENGTH}", name="comment"
        ),
        # A redelivered Slack/Gmail interaction is stored once.
        UniqueConstraint("organization_id", "channel", "external_id"),
        # One rating per person and target: rating again updates it. NULLs never collide, so
        # each index binds only the rows of its target type (on SQLite and PostgreSQL alike).
        Index(None, "author_id", "message_id", unique=True),
        Index(None, "author_id", "action_id", unique=True),
        Index(None, "author_id", "conversation_id", unique=True),
        Index(None, "organization_id", "agent_id", "created_at"),
    )

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    target_type: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    action_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_actions.id", ondelete="CASCADE")
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    # Per-criterion ratings of a thread review, e.g. {"tone": 4, "accuracy": 5}.
    criteria: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channel: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prompted: Mapped[bool] = mapped_column(default=False)
    external_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class CriterionRating:
    name: str  # e.g. "tone", "accuracy", "next_step"
    rating: int  # 1..5


class FeedbackStat(DailyRollupRow, Base):
    """Daily sums of the ratings of one agent's work on one target type (by the UTC day each
    rating was first given): count, sum of ratings, how many answered a prompt.
    ``backend.feedback.rollup`` keeps them in each rating's own unit of work."""

    __tablename__ = "feedback_stats"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "agent_id", "day", "target_type"),
        Index(None, "organization_id", "day"),
    )

    target_type: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    prompted: Mapped[int] = mapped_column(Integer, default=0)


class ReworkStat(DailyRollupRow, Base):
    """Daily counts of the ratings that judged one agent's work of one action type wrong
    (``judged_wrong``), by the UTC day each rating was first given: the work a person redid,
    which saves no time in the ROI. A message's rating counts for the first action that sent
    it. ``backend.feedback.rollup`` keeps them in each rating's own unit of work."""

    __tablename__ = "rework_stats"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "agent_id", "day", "action_type"),
        Index(None, "organization_id", "day"),
    )

    action_type: Mapped[str] = mapped_column(String(40))
    redone: Mapped[int] = mapped_column(Integer, default=0)
