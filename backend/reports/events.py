"""Events of the reports domain, raised inside the unit of work and dispatched after commit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SubscriptionChange(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True)
class ReportSubscriptionChanged:
    organization_id: int
    subscription_id: int
    user_id: int  # the recipient
    change: SubscriptionChange
    by_user_id: int | None  # None: the recipient's one-click unsubscribe (no login)
