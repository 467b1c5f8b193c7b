"""Tables: each organisation's Slack installation (secrets encrypted), the messages we posted
(to join clicks, reactions and updates to what they rate), the Events API deliveries seen, and
alerts in Slack: where each alert's message is and the outbox of its changes to show."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, OrganizationRow, one_of, utcnow

DEFAULT_API_BASE_URL = "https://slack.com/api/"


class SlackInstallation(OrganizationRow, Base):
    """One Slack workspace per organisation; the team id in every payload names it."""

    __tablename__ = "slack_installations"
    __scope__ = "org"
    __table_args__ = (UniqueConstraint("organization_id"), UniqueConstraint("slack_team_id"))

    slack_team_id: Mapped[str] = mapped_column(String(32))
    # Fernet tokens (backend.slack.secrets), never the plain values.
    signing_secret_encrypted: Mapped[str] = mapped_column(Text)
    bot_token_encrypted: Mapped[str] = mapped_column(Text)
    api_base_url: Mapped[str] = mapped_column(String(300), default=DEFAULT_API_BASE_URL)
    default_channel: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PostKind(StrEnum):
    ACTION = "action"  # a decision of the agent (escalation, stage change, ...), rated 1..5
    MESSAGE = "message"  # a message the agent sent, rated with a thumb
    PROMPT = "prompt"  # a feedback prompt on a critical action


class PostTarget(StrEnum):
    MESSAGE = "message"
    ACTION = "action"


class SlackPost(OrganizationRow, Base):
    """A Slack message we posted about one feedback target; (channel, ts) is Slack's key."""

    __tablename__ = "slack_posts"
    __scope__ = "agent"
    __table_args__ = (
        UniqueConstraint("organization_id", "channel", "ts"),
        one_of("kind", PostKind),
        one_of("target_type", PostTarget),
        CheckConstraint(
            "(target_type = 'message' AND message_id IS NOT NULL)"
            " OR (target_type = 'action' AND action_id IS NOT NULL)",
            name="target_type__has_target",
        ),
        Index(None, "organization_id", "action_id"),
        Index(None, "organization_id", "message_id"),
    )

    channel: Mapped[str] = mapped_column(String(40))
    ts: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    target_type: Mapped[str] = mapped_column(String(16))
    # The action the post is about (always, when it mirrors one) and, for a message target,
    # the message rated.
    action_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_actions.id", ondelete="CASCADE")
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SlackEventReceipt(OrganizationRow, Base):
    """An Events API delivery already handled: Slack retries (X-Slack-Retry-Num) count once."""

    __tablename__ = "slack_event_receipts"
    __scope__ = "org"
    __table_args__ = (UniqueConstraint("organization_id", "event_id"),)

    event_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class SlackAlertMessage(OrganizationRow, Base):
    """One alert shown in Slack at one target: a channel (the rule's, or the installation's
    default), or a person in a direct message. Slack's key of the message, (channel, ts), is
    set once it is posted; every later change of the alert updates that message."""

    __tablename__ = "slack_alert_messages"
    __scope__ = "org"
    __table_args__ = (
        UniqueConstraint("alert_id", "target"),
        CheckConstraint("(channel IS NULL) = (ts IS NULL)", name="posted"),
    )

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    # Where it is posted: a channel id, or the Slack user id of the person for a direct message.
    target: Mapped[str] = mapped_column(String(80))
    # The person of a direct message (none for a channel).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Slack's answer to the post: the channel (a "D..." id for a direct message) and the ts.
    channel: Mapped[str | None] = mapped_column(String(80))
    ts: Mapped[str | None] = mapped_column(String(40))
    posted_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime | None]  # the last chat.update
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SlackDeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or for the message's earlier change)
    SENT = "sent"
    FAILED = "failed"  # Slack refused for good, or the last attempt failed; errors are kept


class SlackAlertDelivery(OrganizationRow, Base):
    """One change of an alert to show on one of its messages: post it (``created``), update it
    (``acknowledged``, ``snoozed``, ``resolved``), or reply in its thread and update it
    (``reminded``). The idempotency key names the alert, the change, its event's version and the
    target, so a retried event queues nothing more. A message's changes go out in order."""

    __tablename__ = "slack_alert_deliveries"
    __scope__ = "org"
    __table_args__ = (
        one_of("status", SlackDeliveryStatus),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="sent_at"),
        # The worker's claim: due pending rows, oldest first.
        Index(None, "status", "next_attempt_at"),
    )

    message_id: Mapped[int] = mapped_column(
        ForeignKey("slack_alert_messages.id", ondelete="CASCADE"), index=True
    )
    change: Mapped[str] = mapped_column(String(16))  # an AlertChange
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=SlackDeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Every failed attempt: {"attempt": n, "at": iso time, "error": "..."}.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
