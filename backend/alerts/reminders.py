"""Reminders: a firing alert nobody acknowledged is announced again (change ``reminded``).

A rule's ``remind_after_minutes`` sets the period; without one, critical rules remind every
``DEFAULT_REMIND_AFTER`` and other rules never. The first reminder is due a period after the
alert fired, each next one a period after the last, at most ``MAX_REMINDERS`` in all. A snooze
holds them: while it lasts nothing is due, and afterwards the period counts from its end.
Acknowledging or resolving an alert ends its reminders.

Every reminder is one guarded statement (``... WHERE state = 'firing' AND reminders = n``),
so two workers, or a retried run, remind once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alerts.events import AlertChange
from backend.alerts.models import Alert, AlertRule, AlertState, Severity
from backend.alerts.state import announce

DEFAULT_REMIND_AFTER = dt.timedelta(hours=1)  # critical rules without a period of their own
MAX_REMINDERS = 3


def remind_period(remind_after_minutes: int | None, severity: str) -> dt.timedelta | None:
    """How long a firing alert may go unacknowledged before (each) reminder; None: never."""
    if remind_after_minutes is not None:
        return dt.timedelta(minutes=remind_after_minutes)
    return DEFAULT_REMIND_AFTER if severity == Severity.CRITICAL else None


def reminder_due(
    *,
    fired_at: dt.datetime,
    reminded_at: dt.datetime | None,
    snoozed_until: dt.datetime | None,
    period: dt.timedelta,
) -> dt.datetime:
    """When the next reminder is due: a period after the later of the firing, the last
    reminder and the end of a snooze."""
    since = max(t for t in (fired_at, reminded_at, snoozed_until) if t is not None)
    return since + period


async def remind_unacknowledged(session: AsyncSession, *, now: dt.datetime) -> int:
    """Announce ``reminded`` for each firing alert whose reminder is due at ``now``; how many."""
    rows = await session.execute(
        select(
            Alert.id,
            Alert.fired_at,
            Alert.reminded_at,
            Alert.snoozed_until,
            Alert.reminders,
            AlertRule.remind_after_minutes,
            AlertRule.severity,
        )
        .join(AlertRule, AlertRule.id == Alert.rule_id)
        .where(
            Alert.state == AlertState.FIRING.value,
            Alert.reminders < MAX_REMINDERS,
            AlertRule.remind_after_minutes.is_not(None)
            | (AlertRule.severity == Severity.CRITICAL.value),
        )
        .order_by(Alert.id)
    )
    reminded = 0
    for alert_id, fired_at, reminded_at, snoozed_until, count, minutes, severity in rows.all():
        period = remind_period(minutes, severity)
        if period is None:
            continue
        if snoozed_until is not None and snoozed_until > now:
            continue
        due = reminder_due(
            fired_at=fired_at, reminded_at=reminded_at, snoozed_until=snoozed_until, period=period
        )
        if now < due:
            continue
        changed = (
            await session.execute(
                update(Alert)
                .where(
                    Alert.id == alert_id,
                    Alert.state == AlertState.FIRING.value,
                    Alert.reminders == count,
                )
                .values(reminders=count + 1, reminded_at=now, updated_at=now)
                .returning(Alert.id)
            )
        ).scalar_one_or_none()
        if changed is None:  # acknowledged, resolved or reminded by another worker meanwhile
            continue
        alert = await session.get_one(Alert, alert_id, populate_existing=True)
        await announce(session, alert, AlertChange.REMINDED, by_user_id=None)
        reminded += 1
    return reminded
