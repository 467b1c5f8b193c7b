"""The outbox: enqueue alert e-mails (once per change and recipient), claim the due ones for
one worker, record each attempt's outcome with exponential backoff."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend import outbox
from backend.alerts.events import AlertChanged
from backend.alerts.models import Alert, AlertRule
from backend.database import dialect_insert
from backend.notifications.alert_emails import render_alert_email
from backend.notifications.models import Channel, Notification, NotificationStatus
from backend.notifications.recipients import alert_recipients
from backend.orgs.models import User
from backend.outbox import MAX_ATTEMPTS, backoff


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
    """Take the due pending e-mails for this worker (`backend.outbox.claim_due`)."""
    return await outbox.claim_due(session, Notification, now=now, limit=limit)


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
