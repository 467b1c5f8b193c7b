"""What the prompts domain tells the rest after commit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PromptChange(StrEnum):
    CREATED = "created"
    ANSWERED = "answered"
    EXPIRED = "expired"
    REMINDED = "reminded"


@dataclass(frozen=True)
class PromptChanged:
    """A person was asked about an action, answered, let the prompt expire, or is due the
    reminder (the channels tell them)."""

    organization_id: int
    prompt_id: int
    action_id: int
    user_id: int
    change: PromptChange
    feedback_id: int | None = None  # the rating that answered it
    rated_action_id: int | None = None  # the action that rating was about, if an action
