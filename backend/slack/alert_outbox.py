"""The outbox of alerts in Slack: queue each change of an alert for each of its messages (once
per change and target), claim the due ones for one worker, record each attempt's outcome.

Where an alert goes: the rule's `slack_channel`, else the installation's default channel, else a
direct message to each person who should hear of it and has a Slack id (the e-mail's recipients,
`backend.notifications.recipients`, each checked with `sees_alert`). Later changes go to the
messages the alert already has.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend import outbox
from backend.alerts.events import AlertChange, AlertChanged
from backend.alerts.models import Alert, AlertRule, AlertState
from backend.database import dialect_insert
from backend.notifications.recipients import alert_recipients
from backend.outbox import MAX_ATTEMPTS, backoff
from backend.slack.models import (
    SlackAlertDelivery,
    SlackAlertMessage,
    SlackDeliveryStatus,
    SlackInstallation,
)
from backend.slack.service import installation_for_organization

SLACK_CHANNEL = "slack"  # in a rule's `channels`


@dataclass(frozen=True)
class Target:
    """Where to post: a channel id, or a person's Slack user id (a direct message)."""

    target: str
    user_id: int | None = None


def idempotency_key(event: AlertChanged, target: str) -> str:
    version = event.version if event.version is not None else event.state
    return f"alert:{event.alert_id}:{event.change.value}:v{version}:slack:{target}"[:200]


async def alert_targets(
    session: AsyncSession, alert: Alert, rule: AlertRule, installation: SlackInstallation
) -> list[Target]:
    """The rule's channel, else the installation's default one, else the people who should hear
    of the alert and are mapped to Slack users."""
    channel = rule.slack_channel or installation.default_channel
    if channel:
        return [Target(channel)]
    return [
        Target(r.slack_user_id, r.user_id)
        for r in await alert_recipients(session, alert)
        if r.slack_user_id
    ]


async def alert_messages(session: AsyncSession, alert_id: int) -> list[SlackAlertMessage]:
    return list(
        await session.scalars(
            select(SlackAlertMessage)
            .where(SlackAlertMessage.alert_id == alert_id)
            .order_by(SlackAlertMessage.id)
        )
    )


async def _messages_for(
    session: AsyncSession, alert: Alert, targets: list[Target], *, now: dt.datetime
) -> list[SlackAlertMessage]:
    for target in targets:
        await session.execute(
            dialect_insert(session, SlackAlertMessage)
            .values(
                organization_id=alert.organization_id,
                alert_id=alert.id,
                target=target.target,
                user_id=target.user_id,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["alert_id", "target"])
        )
    return await alert_messages(session, alert.id)


async def enqueue_alert_change(
    session: AsyncSession, event: AlertChanged, *, now: dt.datetime
) -> int:
    """Queue ``event`` for each of the alert's Slack messages when its rule delivers to Slack
    and the organisation has Slack: a new alert's messages are created (posted by the worker);
    a later change of an alert not shown yet creates them too, unless it is resolved. A change
    queued before queues nothing more. Returns how many were queued."""
    alert = await session.get(Alert, event.alert_id)
    if alert is None or alert.organization_id != event.organization_id:
        return 0
    rule = await session.get(AlertRule, alert.rule_id)
    if rule is None or SLACK_CHANNEL not in (rule.channels or ()):
        return 0
    installation = await installation_for_organization(session, alert.organization_id)
    if installation is None:
        return 0
    messages = await alert_messages(session, alert.id)
    if event.change is AlertChange.CREATED or (
        not messages and alert.state != AlertState.RESOLVED.value
    ):
        targets = await alert_targets(session, alert, rule, installation)
        messages = await _messages_for(session, alert, targets, now=now)
    queued = 0
    for message in messages:
        statement = (
            dialect_insert(session, SlackAlertDelivery)
            .values(
                organization_id=alert.organization_id,
                message_id=message.id,
                change=event.change.value,
                idempotency_key=idempotency_key(event, message.target),
                status=SlackDeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                errors=[],
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(SlackAlertDelivery.id)
        )
        queued += (await session.execute(statement)).scalar_one_or_none() is not None
    return queued


async def claim_due(
    session: AsyncSession, *, now: dt.datetime, limit: int = 50
) -> list[SlackAlertDelivery]:
    """Take the due pending deliveries for this worker (`backend.outbox.claim_due`)."""
    return await outbox.claim_due(session, SlackAlertDelivery, now=now, limit=limit)


async def earlier_pending(
    session: AsyncSession, delivery: SlackAlertDelivery
) -> SlackAlertDelivery | None:
    """The message's oldest change still waiting to go out before ``delivery``, if any."""
    return await session.scalar(
        select(SlackAlertDelivery)
        .where(
            SlackAlertDelivery.message_id == delivery.message_id,
            SlackAlertDelivery.id < delivery.id,
            SlackAlertDelivery.status == SlackDeliveryStatus.PENDING.value,
        )
        .order_by(SlackAlertDelivery.id)
        .limit(1)
    )


async def defer(session: AsyncSession, delivery: SlackAlertDelivery, *, until: dt.datetime) -> None:
    """Put a claimed delivery back until ``until``, its claim not counted as an attempt."""
    await session.execute(
        update(SlackAlertDelivery)
        .where(SlackAlertDelivery.id == delivery.id)
        .values(attempts=max(delivery.attempts - 1, 0), next_attempt_at=until)
    )


async def record_posted(
    session: AsyncSession, message_id: int, *, channel: str, ts: str, now: dt.datetime
) -> None:
    await session.execute(
        update(SlackAlertMessage)
        .where(SlackAlertMessage.id == message_id)
        .values(channel=channel, ts=ts, posted_at=now, updated_at=now)
    )


async def mark_sent(session: AsyncSession, delivery_id: int, *, now: dt.datetime) -> None:
    await session.execute(
        update(SlackAlertDelivery)
        .where(SlackAlertDelivery.id == delivery_id)
        .values(status=SlackDeliveryStatus.SENT.value, sent_at=now, last_error=None)
    )


async def mark_attempt_failed(
    session: AsyncSession,
    delivery: SlackAlertDelivery,
    error: str,
    *,
    now: dt.datetime,
    permanent: bool = False,
    retry_after: dt.timedelta | None = None,
) -> SlackDeliveryStatus:
    """Keep the attempt's error; retry after Slack's Retry-After or the backoff, or give up at
    once when ``permanent`` and after `MAX_ATTEMPTS` otherwise."""
    attempts = delivery.attempts
    failed = permanent or attempts >= MAX_ATTEMPTS
    status = SlackDeliveryStatus.FAILED if failed else SlackDeliveryStatus.PENDING
    errors = [
        *(delivery.errors or []),
        {"attempt": attempts, "at": now.isoformat(), "error": error[:2000]},
    ]
    await session.execute(
        update(SlackAlertDelivery)
        .where(SlackAlertDelivery.id == delivery.id)
        .values(
            status=status.value,
            last_error=error[:2000],
            errors=errors,
            next_attempt_at=now + (retry_after if retry_after is not None else backoff(attempts)),
        )
    )
    return status
