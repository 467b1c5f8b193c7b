"""The outbox: enqueue alert e-mails (once per change and recipient), claim the due ones for
one worker, record each attempt's outcome with exponential backoff."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alerts.events import AlertChanged
from backend.alerts.models import Alert, AlertRule
from backend.database import dialect_insert, is_postgresql
from backend.notifications.alert_emails import render_alert_email
from backend.notifications.models import Channel, Notification, NotificationStatus
from backend.notifications.recipients import alert_recipients
from backend.orgs.models import User

MAX_ATTEMPTS = 8  # 1 + 2 + 4 + ... minutes: the last try about four hours after the first
FIRST_BACKOFF = dt.timedelta(minutes=1)
MAX_BACKOFF = dt.timedelta(hours=1)
# A claimed row is not due again for this long: a worker that died while sending leaves it to
# be retried then (at least once), never sent twice by two live workers.
LEASE = dt.timedelta(minutes=5)


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failure: 1, 2, 4 ... minutes, at most an hour."""
    return min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def idempotency_key(event: AlertChanged, user_id: int) -> str:
    version = event.version if event.version is not None else event.state
    return f"alert:{event.alert_id}:{event.change.value}:v{version}:user:{user_id}"


async def enqueue_alert_emails(
    session: AsyncSession, event: AlertChanged, *, base_url: str, now: dt.datetime
) -> int:
    """One pending e-mail per person who should hear of the change, when the alert's rule
    delivers by e-mail; a change already enqueued enqueues nothing more. Returns how many."""
    alert = await session.get(Alert, event.alert_id)
    if alert is None or alert.organization_id != event.organization_id:
        return 0
    rule = await session.get(AlertRule, alert.rule_id)
    if rule is None or Channel.EMAIL.value not in (rule.channels or ()):
        return 0
    acknowledged_by = None
    if alert.acknowledged_by_id is not None:
        acknowledged_by = await session.scalar(
            select(User.name).where(User.id == alert.acknowledged_by_id)
        )
    email = render_alert_email(
        alert, rule, event.change.value, acknowledged_by=acknowledged_by, base_url=base_url
    )
    enqueued = 0
    for recipient in await alert_recipients(session, alert):
        statement = (
            dialect_insert(session, Notification)
            .values(
                organization_id=alert.organization_id,
                channel=Channel.EMAIL.value,
                user_id=recipient.user_id,
                address=recipient.address,
                subject=email.subject,
                body_text=email.text,
                body_html=email.html,
                alert_id=alert.id,
                change=event.change.value,
                idempotency_key=idempotency_key(event, recipient.user_id),
                status=NotificationStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                errors=[],
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Notification.id)
        )
        enqueued += (await session.execute(statement)).scalar_one_or_none() is not None
    return enqueued


async def claim_due(
    session: AsyncSession, *, now: dt.datetime, limit: int = 50
) -> list[Notification]:
    """Take the due pending e-mails for this worker: each counts an attempt and is leased (not
    due for `LEASE`), so another worker claiming at once takes other rows. On PostgreSQL the
    candidates are locked with SKIP LOCKED; everywhere the lease is one guarded UPDATE."""
    candidates = (
        select(Notification.id)
        .where(
            Notification.status == NotificationStatus.PENDING.value,
            Notification.next_attempt_at <= now,
        )
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
    )
    if is_postgresql(session):
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(await session.scalars(candidates))
    if not ids:
        return []
    claimed = await session.scalars(
        update(Notification)
        .where(
            Notification.id.in_(ids),
            Notification.status == NotificationStatus.PENDING.value,
            Notification.next_attempt_at <= now,
        )
        .values(attempts=Notification.attempts + 1, next_attempt_at=now + LEASE)
        .returning(Notification.id)
    )
    claimed_ids = sorted(claimed)
    rows = await session.scalars(
        select(Notification)
        .where(Notification.id.in_(claimed_ids))
        .order_by(Notification.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def mark_sent(session: AsyncSession, notification_id: int, *, now: dt.datetime) -> None:
    await session.execute(
        update(Notification)
        .where(Notification.id == notification_id)
        .values(status=NotificationStatus.SENT.value, sent_at=now, last_error=None)
    )


async def mark_attempt_failed(
    session: AsyncSession, notification: Notification, error: str, *, now: dt.datetime
) -> NotificationStatus:
    """Keep the attempt's error; retry after the backoff, or give up after `MAX_ATTEMPTS`."""
    attempts = notification.attempts
    status = NotificationStatus.FAILED if attempts >= MAX_ATTEMPTS else NotificationStatus.PENDING
    errors = [
        *(notification.errors or []),
        {"attempt": attempts, "at": now.isoformat(), "error": error[:2000]},
    ]
    await session.execute(
        update(Notification)
        .where(Notification.id == notification.id)
        .values(
            status=status.value,
            last_error=error[:2000],
            errors=errors,
            next_attempt_at=now + backoff(attempts),
        )
    )
    return status
