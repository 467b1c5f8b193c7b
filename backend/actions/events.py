"""What the actions domain tells the rest after commit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionRecorded:
    """The agent recorded a new action (not a retry of one already recorded)."""

    organization_id: int
    action_id: int
    agent_id: int
    action_type: str
    is_critical: bool
    has_message: bool
