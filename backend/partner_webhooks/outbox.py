"""The outbox of partner webhooks: queue an event for each enabled endpoint that subscribes to
it (once per endpoint and event), claim the due deliveries for one worker, record each attempt
with exponential backoff."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend import outbox
from backend.database import dialect_insert
from backend.outbox import MAX_ATTEMPTS, backoff
from backend.partner_webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


async def queue_event(
    session: AsyncSession,
    *,
    organization_id: int,
    event_type: str,
    event_id: str,
    data: dict[str, Any],
    now: dt.datetime,
) -> int:
    """One pending delivery per enabled, live endpoint of the organisation subscribed to
    ``event_type``; an event already queued for an endpoint queues nothing more."""
    endpoints = await session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
            WebhookEndpoint.organization_id == organization_id,
            WebhookEndpoint.enabled.is_(True),
            WebhookEndpoint.deleted_at.is_(None),
        )
    )
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    queued = 0
    for endpoint_id, event_types in endpoints:
        if event_type not in (event_types or ()):
            continue
        statement = (
            dialect_insert(session, WebhookDelivery)
            .values(
                organization_id=organization_id,
                endpoint_id=endpoint_id,
                message_id=new_message_id(),
                event_type=event_type,
                event_id=event_id,
                payload=payload,
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                attempt_log=[],
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
            .returning(WebhookDelivery.id)
        )
        queued += (await session.execute(statement)).scalar_one_or_none() is not None
    return queued


async def claim_due(
    session: AsyncSession, *, now: dt.datetime, limit: int = 50
) -> list[WebhookDelivery]:
    """Take the due pending deliveries for this worker (`backend.outbox.claim_due`)."""
    return await outbox.claim_due(session, WebhookDelivery, now=now, limit=limit)


async def record_attempt(
    session: AsyncSession,
    delivery: WebhookDelivery,
    *,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    now: dt.datetime,
    final: bool = False,
) -> DeliveryStatus:
    """Log the attempt: a 2xx delivers; anything else retries after the backoff, or fails
    after `MAX_ATTEMPTS`, or at once when ``final`` (a refused address: retrying would not
    change it)."""
    attempts = delivery.attempts
    ok = error is None and status_code is not None and 200 <= status_code < 300
    if ok:
        status = DeliveryStatus.DELIVERED
    elif final or attempts >= MAX_ATTEMPTS:
        status = DeliveryStatus.FAILED
    else:
        status = DeliveryStatus.PENDING
    entry = {
        "attempt": attempts,
        "at": now.isoformat(),
        "status_code": status_code,
        "error": error[:2000] if error else None,
        "duration_ms": duration_ms,
    }
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id)
        .values(
            status=status.value,
            attempt_log=[*(delivery.attempt_log or []), entry],
            last_status_code=status_code,
            last_error=entry["error"],
            delivered_at=now if ok else None,
            next_attempt_at=now if ok else now + backoff(attempts),
        )
    )
    return status
