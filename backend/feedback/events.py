"""What the feedback domain tells the rest after commit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class FeedbackGiven:
    """A person rated a message, an action or a thread (a new rating or a changed one), through
    any channel."""

    organization_id: int
    feedback_id: int
    author_id: int
    target_type: str
    action_id: int | None
    message_id: int | None
    conversation_id: int | None
    channel: str
    at: dt.datetime


@dataclass(frozen=True)
class FeedbackWithdrawn:
    """A person took their rating back (e.g. removed their Slack reaction)."""

    organization_id: int
    author_id: int
    action_id: int | None
    message_id: int | None
