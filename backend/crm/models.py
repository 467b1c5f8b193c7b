"""Tables: contacts, deals, conversations (threads) and messages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, OrganizationRow, one_of, utcnow


class DealStage(StrEnum):
    """Pipeline stages in order; `deal.stage_changed` compares positions in this order."""

    PROSPECTING = "prospecting"
    QUALIFIED = "qualified"
    DISCOVERY = "discovery"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"


class Contact(OrganizationRow, Base):
    __tablename__ = "contacts"
    __scope__ = "org"
    __table_args__ = (UniqueConstraint("organization_id", "email"),)

    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    persona: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Deal(OrganizationRow, Base):
    __tablename__ = "deals"
    __scope__ = "agent"
    __table_args__ = (
        UniqueConstraint("organization_id", "external_id"),
        one_of("stage", DealStage),
        CheckConstraint("amount >= 0", name="amount"),
    )

    external_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(32), default=DealStage.PROSPECTING.value)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Conversation(OrganizationRow, Base):
    __tablename__ = "conversations"
    __scope__ = "agent"
    __table_args__ = (UniqueConstraint("organization_id", "external_thread_id"),)

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(32), default="email")
    subject: Mapped[str | None] = mapped_column(String(500))
    # The provider's thread id (e.g. Gmail threadId) so feedback and signals find the thread.
    external_thread_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MessageDirection(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Message(OrganizationRow, Base):
    __tablename__ = "messages"
    __scope__ = "agent"
    __table_args__ = (
        UniqueConstraint("organization_id", "external_message_id"),
        one_of("direction", MessageDirection),
    )

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(16))
    # The provider's message id (e.g. RFC 5322 Message-ID or Gmail id).
    external_message_id: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str | None] = mapped_column(String(500))
    body_preview: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
