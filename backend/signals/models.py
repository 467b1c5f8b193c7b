"""Table: signals (raw events from the agent, e-mail providers and CRMs)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, DailyRollupRow, OrganizationRow, utcnow


class SignalKind(StrEnum):
    EMAIL_OPENED = "email.opened"
    EMAIL_REPLIED = "email.replied"
    EMAIL_CLICKED = "email.clicked"
    EMAIL_BOUNCED = "email.bounced"
    DEAL_STAGE_CHANGED = "deal.stage_changed"
    OPPORTUNITY_CREATED = "opportunity.created"
    MEETING_SCHEDULED = "meeting.scheduled"
    MEETING_ATTENDED = "meeting.attended"
    MEETING_NO_SHOW = "meeting.no_show"
    MEETING_FEEDBACK = "meeting.feedback"
    DEAL_WON = "deal.won"
    DEAL_LOST = "deal.lost"


class Signal(OrganizationRow, Base):
    __tablename__ = "signals"
    __scope__ = "agent"
    __table_args__ = (
        # Idempotency: a writer's retry of the same event counts once. Scoped by organisation
        # so that one tenant's ids can never collide with (or probe) another's, and by writer so
        # that no principal can squat another's ids (docs/webhooks.md, "Retries and
        # idempotency"): an agent key that records an e-mail provider's event id first does
        # not turn the provider's own event into a duplicate.
        UniqueConstraint("organization_id", "writer", "source", "external_id"),
        CheckConstraint("length(kind) BETWEEN 3 AND 64", name="kind"),
        Index(None, "organization_id", "occurred_at"),
    )

    kind: Mapped[str] = mapped_column(String(64))
    # Who wrote it (``backend.signals.service.writer_of``): "webhook" for the organisation's
    # signed provider webhooks, "key:<api client id>" for an API key, "user:<id>" for a person.
    writer: Mapped[str] = mapped_column(String(64), default="webhook")
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # What the signal is about, as far as it was matched; null agent = not matched to an agent.
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    # False when no action could be matched: kept and reported, never dropped.
    matched: Mapped[bool] = mapped_column(default=False)
    # An open or click made by software, not a person (a mail-privacy proxy preloading images,
    # a security scanner following links, an open seconds after delivery): kept, but not counted
    # as human engagement (``backend.signals.engagement`` classifies).
    machine: Mapped[bool] = mapped_column(default=False, server_default=false())
    occurred_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DealActivity(DailyRollupRow, Base):
    """What the CRM signals matched to one agent said of one deal on one UTC day: how many moved
    it forward, won it, lost it. A dashboard counts a deal once per agent or team over its range
    (``backend.signals.rollup`` keeps the counts in each signal batch's unit of work)."""

    __tablename__ = "deal_activity"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "agent_id", "day", "deal_id"),
        Index(None, "organization_id", "day"),
        Index(None, "deal_id"),
    )

    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    progressed: Mapped[int] = mapped_column(Integer, default=0)
    won: Mapped[int] = mapped_column(Integer, default=0)
    lost: Mapped[int] = mapped_column(Integer, default=0)


class EmailEngagement(DailyRollupRow, Base):
    """Opens and clicks matched to one agent's e-mails on one UTC day (the signal's day): all of
    them, and how many of them software made (``Signal.machine``). Human opens are
    ``opens - machine_opens``. Kept in each signal batch's unit of work; ``rebuild`` recounts."""

    __tablename__ = "email_engagement"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "agent_id", "day"),
        Index(None, "organization_id", "day"),
    )

    opens: Mapped[int] = mapped_column(Integer, default=0)
    machine_opens: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    machine_clicks: Mapped[int] = mapped_column(Integer, default=0)
