"""The outbox of partner webhooks: queue an event for each enabled endpoint that subscribes to
it (once per endpoint and event), claim the due deliveries for one worker, record each attempt
with exponential backoff."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.database import dialect_insert, is_postgresql
from backend.partner_webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

MAX_ATTEMPTS = 8  # 1 + 2 + 4 + ... minutes: the last try a few hours after the first
FIRST_BACKOFF = dt.timedelta(minutes=1)
MAX_BACKOFF = dt.timedelta(hours=1)
# A claimed row is not due again for this long: a worker that died while sending leaves it to
# be retried then (at least once), never sent at once by two live workers.
LEASE = dt.timedelta(minutes=5)


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failure: 1, 2, 4 ... minutes, at most an hour."""
    return min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


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
    """Take the due pending deliveries for this worker: each counts an attempt and is leased
    (not due for `LEASE`), so another worker claiming at once takes other rows. On PostgreSQL
    the candidates are locked with SKIP LOCKED; everywhere the lease is one guarded UPDATE."""
    candidates = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            WebhookDelivery.next_attempt_at <= now,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if is_postgresql(session):
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(await session.scalars(candidates))
    if not ids:
        return []
    claimed = await session.scalars(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id.in_(ids),
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            WebhookDelivery.next_attempt_at <= now,
        )
        .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=now + LEASE)
        .returning(WebhookDelivery.id)
    )
    claimed_ids = sorted(claimed)
    rows = await session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.id.in_(claimed_ids))
        .order_by(WebhookDelivery.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def record_attempt(
    session: AsyncSession,
    delivery: WebhookDelivery,
    *,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    now: dt.datetime,
) -> DeliveryStatus:
    """Log the attempt: a 2xx delivers; anything else retries after the backoff, or fails
    after `MAX_ATTEMPTS`."""
    attempts = delivery.attempts
    ok = error is None and status_code is not None and 200 <= status_code < 300
    if ok:
        status = DeliveryStatus.DELIVERED
    elif attempts >= MAX_ATTEMPTS:
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
