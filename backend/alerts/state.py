"""Alert state: one open alert per rule and subject, firing -> acknowledged -> resolved.

Every transition is one guarded statement (``... WHERE state = 'firing'``, or an insert that
does nothing on the open alert's unique key), so two workers evaluating at once, or a retried
request, change an alert once and announce it once: `AlertChanged` and the live
`alert.changed` event are raised only by the statement that made the change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alerts.events import AlertChange, AlertChanged
from backend.alerts.judgement import Judgement
from backend.alerts.models import Alert, AlertRule, AlertState
from backend.database import dialect_insert
from backend.events.service import record_event
from backend.unit_of_work import raise_event

OPEN = (AlertState.FIRING.value, AlertState.ACKNOWLEDGED.value)


@dataclass(frozen=True)
class Subject:
    """What an alert is about: the rule's scope, or an agent (and action type) inside it."""

    key: str  # e.g. "organization", "team:3", "agent:7:email"
    team_id: int | None
    agent_id: int | None
    action_type: str | None


async def announce(
    session: AsyncSession, alert: Alert, change: AlertChange, *, by_user_id: int | None
) -> None:
    """Queue the alert's change for after commit: the live event and the domain event."""
    live = await record_event(
        session,
        name="alert.changed",
        organization_id=alert.organization_id,
        stream=f"alert:{alert.id}",
        data={
            "alertId": alert.id,
            "ruleId": alert.rule_id,
            "change": change.value,
            "state": alert.state,
            "severity": alert.severity,
            "kind": alert.kind,
            "metric": alert.metric,
            "actionType": alert.action_type,
            "teamId": alert.team_id,
            "agentId": alert.agent_id,
            "message": alert.message,
            "at": alert.updated_at.isoformat(),  # the change's time: every transition sets it
            "byUserId": by_user_id,
        },
    )
    raise_event(
        session,
        AlertChanged(
            organization_id=alert.organization_id,
            alert_id=alert.id,
            rule_id=alert.rule_id,
            change=change,
            state=alert.state,
            severity=alert.severity,
            team_id=alert.team_id,
            agent_id=alert.agent_id,
            by_user_id=by_user_id,
            version=live.version,
        ),
    )


async def open_alert(session: AsyncSession, rule: AlertRule, subject_key: str) -> Alert | None:
    return await session.scalar(
        select(Alert).where(
            Alert.organization_id == rule.organization_id,
            Alert.rule_id == rule.id,
            Alert.open_key == subject_key,
        )
    )


async def apply_judgement(
    session: AsyncSession,
    rule: AlertRule,
    subject: Subject,
    judgement: Judgement,
    *,
    now: dt.datetime,
) -> AlertChange | None:
    """Fire, refresh, mark cleared or resolve (after the rule's hold period) the rule's alert
    about ``subject``; the change announced, if any."""
    current = await open_alert(session, rule, subject.key)
    if judgement.holds:
        if current is None:
            return await _fire(session, rule, subject, judgement, now=now)
        await session.execute(
            update(Alert)
            .where(Alert.id == current.id, Alert.state.in_(OPEN))
            .values(
                observed=judgement.observed,
                expected=judgement.expected,
                message=judgement.message[:1000],
                evidence=judgement.evidence,
                last_seen_at=now,
                cleared_at=None,
                updated_at=now,
            )
        )
        return None
    if current is None:
        return None
    if not judgement.cleared:  # inside the hysteresis band: neither holding nor cleared
        await session.execute(
            update(Alert).where(Alert.id == current.id).values(cleared_at=None, updated_at=now)
        )
        return None
    cleared_at = current.cleared_at or now
    if current.cleared_at is None:
        await session.execute(
            update(Alert)
            .where(Alert.id == current.id, Alert.cleared_at.is_(None))
            .values(cleared_at=now, updated_at=now)
        )
    if now - cleared_at >= dt.timedelta(hours=rule.hold_hours):
        done = await resolve(session, current.id, by_user_id=None, now=now)
        return AlertChange.RESOLVED if done else None
    return None


async def _fire(
    session: AsyncSession,
    rule: AlertRule,
    subject: Subject,
    judgement: Judgement,
    *,
    now: dt.datetime,
    cleared: bool = False,
) -> AlertChange | None:
    values: dict[str, Any] = {
        "organization_id": rule.organization_id,
        "rule_id": rule.id,
        "subject": subject.key,
        "open_key": subject.key,
        "team_id": subject.team_id,
        "agent_id": subject.agent_id,
        "kind": rule.kind,
        "metric": rule.metric,
        "action_type": subject.action_type,
        "severity": rule.severity,
        "state": AlertState.FIRING.value,
        "observed": judgement.observed,
        "expected": judgement.expected,
        "message": judgement.message[:1000],
        "evidence": judgement.evidence,
        "fired_at": now,
        "last_seen_at": now,
        "cleared_at": now if cleared else None,
        "updated_at": now,
    }
    insert = dialect_insert(session, Alert)
    statement = (
        insert.values(**values)
        .on_conflict_do_nothing(index_elements=["organization_id", "rule_id", "open_key"])
        .returning(Alert.id)
    )
    alert_id = (await session.execute(statement)).scalar_one_or_none()
    if alert_id is None:  # another evaluation opened it first
        return None
    alert = await session.get_one(Alert, alert_id)
    await announce(session, alert, AlertChange.CREATED, by_user_id=None)
    return AlertChange.CREATED


async def fire_notice(
    session: AsyncSession,
    rule: AlertRule,
    subject: Subject,
    judgement: Judgement,
    *,
    now: dt.datetime,
) -> AlertChange | None:
    """An alert about something that happened (a policy moved): fired cleared, so it resolves
    itself after the hold period; a second notice while one is open refreshes it."""
    current = await open_alert(session, rule, subject.key)
    if current is None:
        return await _fire(session, rule, subject, judgement, now=now, cleared=True)
    await session.execute(
        update(Alert)
        .where(Alert.id == current.id)
        .values(
            message=judgement.message[:1000],
            evidence=judgement.evidence,
            observed=judgement.observed,
            expected=judgement.expected,
            last_seen_at=now,
            cleared_at=now,
            updated_at=now,
        )
    )
    return None


async def _changed(session: AsyncSession, statement: Any) -> Alert | None:
    alert_id = (await session.execute(statement.returning(Alert.id))).scalar_one_or_none()
    if alert_id is None:
        return None
    alert = await session.get_one(Alert, alert_id, populate_existing=True)
    return alert


async def acknowledge(
    session: AsyncSession, alert_id: int, *, by_user_id: int | None, now: dt.datetime
) -> bool:
    """firing -> acknowledged; False when it was not firing (a retry changes nothing)."""
    alert = await _changed(
        session,
        update(Alert)
        .where(Alert.id == alert_id, Alert.state == AlertState.FIRING.value)
        .values(
            state=AlertState.ACKNOWLEDGED.value,
            acknowledged_at=now,
            acknowledged_by_id=by_user_id,
            updated_at=now,
        ),
    )
    if alert is not None:
        await announce(session, alert, AlertChange.ACKNOWLEDGED, by_user_id=by_user_id)
    return alert is not None


async def resolve(
    session: AsyncSession, alert_id: int, *, by_user_id: int | None, now: dt.datetime
) -> bool:
    """An open alert -> resolved (by a person, or None: by itself); False when it was not open."""
    alert = await _changed(
        session,
        update(Alert)
        .where(Alert.id == alert_id, Alert.state.in_(OPEN))
        .values(
            state=AlertState.RESOLVED.value,
            open_key=None,
            resolved_at=now,
            resolved_by_id=by_user_id,
            updated_at=now,
        ),
    )
    if alert is not None:
        await announce(session, alert, AlertChange.RESOLVED, by_user_id=by_user_id)
    return alert is not None


async def snooze(
    session: AsyncSession,
    alert_id: int,
    *,
    until: dt.datetime,
    by_user_id: int | None,
    now: dt.datetime,
) -> bool:
    """Quiet an open alert until ``until``; False when it was not open or already snoozed
    until then (a retry changes nothing)."""
    alert = await _changed(
        session,
        update(Alert)
        .where(
            Alert.id == alert_id,
            Alert.state.in_(OPEN),
            (Alert.snoozed_until.is_(None)) | (Alert.snoozed_until != until),
        )
        .values(snoozed_until=until, snoozed_by_id=by_user_id, updated_at=now),
    )
    if alert is not None:
        await announce(session, alert, AlertChange.SNOOZED, by_user_id=by_user_id)
    return alert is not None
