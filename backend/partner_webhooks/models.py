"""Tables: partners' webhook endpoints and the outbox of deliveries to them (with their log)."""

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


class WebhookEventType(StrEnum):
    ALERT_CHANGED = "alert.changed"
    CALIBRATION_CHANGED = "calibration.changed"
    POLICY_CHANGED = "policy.changed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # gave up after the last attempt; every attempt is in the log


class WebhookEndpoint(OrganizationRow, Base):
    """Where an organisation wants its events: a URL, the event types, a signing secret
    (encrypted at rest, shown once). Deleting keeps the row (and its log) with `deleted_at`."""

    __tablename__ = "webhook_endpoints"
    __scope__ = "org"
    __table_args__ = (CheckConstraint("length(url) >= 8", name="url"),)

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deleted_at: Mapped[dt.datetime | None]


class WebhookDelivery(OrganizationRow, Base):
    """One event for one endpoint. (endpoint, event id) is unique, so a retried event is queued
    once; `message_id` is the `webhook-id` the receiver sees on every attempt."""

    __tablename__ = "webhook_deliveries"
    __scope__ = "org"
    __table_args__ = (
        one_of("status", DeliveryStatus),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint("(status = 'delivered') = (delivered_at IS NOT NULL)", name="delivered_at"),
        UniqueConstraint("endpoint_id", "event_id"),
        # The worker's claim: due pending rows, oldest first.
        Index(None, "status", "next_attempt_at"),
    )

    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Every attempt: {"attempt": n, "at": iso, "status_code": int | None, "error": str | None,
    # "duration_ms": int}.
    attempt_log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
