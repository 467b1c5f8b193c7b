"""Tables: each organisation's Slack installation (secrets encrypted), the messages we posted
(to join clicks, reactions and updates to what they rate) and the Events API deliveries seen."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
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
