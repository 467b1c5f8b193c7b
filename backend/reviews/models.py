"""Table: review_assignments (a thread given to a person to review, and how far they got)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, OrganizationRow, one_of, utcnow


class ReviewReason(StrEnum):
    """Why a thread was picked for review."""

    WON = "won"  # its deal was won
    LOST = "lost"  # its deal was lost
    DISAGREEMENT = "disagreement"  # a person's rating disagrees with the outcome or confidence
    LONG_THREAD = "long_thread"  # many messages
    MANUAL = "manual"  # chosen by a person (or reviewed without being asked)


class ReviewStatus(StrEnum):
    ASSIGNED = "assigned"
    DONE = "done"
    SKIPPED = "skipped"


class ReviewAssignment(OrganizationRow, Base):
    __tablename__ = "review_assignments"
    # Rows belong to the thread's agent (denormalised, as outcomes do), so managers see the
    # assignments of their teams' threads; a reviewer's own rows are added by the service.
    __scope__ = "agent"
    __table_args__ = (
        # One reviewer never gets the same thread twice; several reviewers per thread are fine.
        UniqueConstraint("conversation_id", "reviewer_id"),
        one_of("reason", ReviewReason),
        one_of("status", ReviewStatus),
        CheckConstraint(
            "(status = 'assigned' AND completed_at IS NULL)"
            " OR (status <> 'assigned' AND completed_at IS NOT NULL)",
            name="completed_at",
        ),
        # A reviewer's queue: their open assignments, oldest first.
        Index(None, "reviewer_id", "status", "created_at"),
    )

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.ASSIGNED.value)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]
