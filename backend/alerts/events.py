"""Domain events of alerts, raised inside the unit of work and handled after commit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AlertChange(StrEnum):
    CREATED = "created"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    SNOOZED = "snoozed"
    REMINDED = "reminded"  # still firing, nobody acknowledged it within the rule's time


@dataclass(frozen=True)
class AlertChanged:
    organization_id: int
    alert_id: int
    rule_id: int
    change: AlertChange
    state: str
    severity: str
    team_id: int | None
    agent_id: int | None
    by_user_id: int | None  # None: the service itself (evaluation, hold period)
    # The version of the live `alert.changed` event in the stream `alert:<id>`: together with
    # the alert and the change, it names this change once (a retried event, the same change).
    version: int | None = None
