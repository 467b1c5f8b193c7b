"""Reminders of firing alerts nobody acknowledged: critical rules every hour by default, a
rule's own period otherwise, at most three, held by a snooze, ended by an acknowledgement;
two workers remind once."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from backend.alerts.evaluation import evaluate_rule
from backend.alerts.events import AlertChange, AlertChanged
from backend.alerts.models import Alert
from backend.alerts.reminders import (
    DEFAULT_REMIND_AFTER,
    MAX_REMINDERS,
    remind_period,
    remind_unacknowledged,
    reminder_due,
)
from backend.alerts.state import acknowledge, snooze
from backend.events.models import EventStream
from backend.unit_of_work import transaction
from backend.worker import JOBS, run_jobs_once
from tests.backend.alerts.builders import add_rule, reply_history
from tests.backend.conftest import Loop
from tests.factories import NOW

MINUTE = dt.timedelta(minutes=1)


def _heard(loop: Loop) -> list[AlertChanged]:
    heard: list[AlertChanged] = []

    async def listen(events: Any) -> None:
        heard.extend(events)

    loop.state.bus.subscribe(AlertChanged, listen)
    return heard


async def _firing(loop: Loop, **rule: Any) -> Alert:
    """A rule (low replies, organisation-wide) whose alert fired at NOW."""
    world: Any = loop.world
    agent = world.agents["rep_a1"]
    async with transaction(loop.state.sessions) as session:
        made = await add_rule(
            session, agent.organization_id, direction="below", threshold=0.06, **rule
        )
        await reply_history(session, agent, days=10, sent=100, replies=lambda day: 2)
    async with transaction(loop.state.sessions) as session:
        assert await evaluate_rule(session, made.id, now=NOW) is AlertChange.CREATED
    async with loop.state.sessions() as session:
        return await session.scalar(select(Alert).where(Alert.rule_id == made.id))


async def _remind(loop: Loop, now: dt.datetime) -> int:
    async with transaction(loop.state.sessions) as session:
        return await remind_unacknowledged(session, now=now)


async def _alert(loop: Loop, alert_id: int) -> Alert:
    async with loop.state.sessions() as session:
        return await session.get_one(Alert, alert_id)


async def test_a_critical_alert_is_reminded_hourly_at_most_three_times(loop: Loop) -> None:
    alert = await _firing(loop, severity="critical")
    heard = _heard(loop)
    assert await _remind(loop, NOW + 59 * MINUTE) == 0
    assert await _remind(loop, NOW + 60 * MINUTE) == 1
    assert await _remind(loop, NOW + 61 * MINUTE) == 0  # the next is an hour after this one
    reminded = await _alert(loop, alert.id)
    assert (reminded.reminders, reminded.reminded_at) == (1, NOW + 60 * MINUTE)
    assert reminded.state == "firing"
    assert await _remind(loop, NOW + 120 * MINUTE) == 1
    assert await _remind(loop, NOW + 180 * MINUTE) == 1
    assert await _remind(loop, NOW + 10 * 60 * MINUTE) == 0  # three is the most
    assert (await _alert(loop, alert.id)).reminders == MAX_REMINDERS
    assert [e.change for e in heard] == [AlertChange.REMINDED] * 3
    assert {(e.alert_id, e.state, e.by_user_id) for e in heard} == {(alert.id, "firing", None)}
    assert [e.version for e in heard] == [2, 3, 4]  # the live stream: created, 3 reminders
    async with loop.state.sessions() as session:
        stream = select(EventStream.version).where(EventStream.stream == f"alert:{alert.id}")
        assert await session.scalar(stream) == 4


async def test_warnings_are_reminded_only_with_a_period_of_their_own(loop: Loop) -> None:
    quiet = await _firing(loop, name="quiet", severity="warning")
    assert await _remind(loop, NOW + dt.timedelta(days=2)) == 0
    assert (await _alert(loop, quiet.id)).reminders == 0

    timed = await _firing(loop, name="timed", severity="warning", remind_after_minutes=30)
    assert await _remind(loop, NOW + 29 * MINUTE) == 0
    assert await _remind(loop, NOW + 30 * MINUTE) == 1
    assert (await _alert(loop, timed.id)).reminders == 1
    assert (await _alert(loop, quiet.id)).reminders == 0


async def test_an_acknowledged_alert_is_not_reminded(loop: Loop) -> None:
    alert = await _firing(loop, severity="critical")
    async with transaction(loop.state.sessions) as session:
        assert await acknowledge(session, alert.id, by_user_id=None, now=NOW + 10 * MINUTE)
    assert await _remind(loop, NOW + 5 * 60 * MINUTE) == 0
    assert (await _alert(loop, alert.id)).reminders == 0


async def test_a_snooze_holds_reminders_and_the_period_counts_from_its_end(loop: Loop) -> None:
    alert = await _firing(loop, severity="critical")
    until = NOW + 3 * 60 * MINUTE
    async with transaction(loop.state.sessions) as session:
        assert await snooze(session, alert.id, until=until, by_user_id=None, now=NOW)
    assert await _remind(loop, NOW + 60 * MINUTE) == 0
    assert await _remind(loop, until) == 0
    assert await _remind(loop, until + 59 * MINUTE) == 0
    assert await _remind(loop, until + 60 * MINUTE) == 1


async def test_two_workers_at_once_remind_once(loop: Loop) -> None:
    alert = await _firing(loop, severity="critical")
    heard = _heard(loop)
    done = await asyncio.gather(*(_remind(loop, NOW + 61 * MINUTE) for _ in range(4)))
    assert sum(done) == 1
    assert (await _alert(loop, alert.id)).reminders == 1
    assert [e.change for e in heard] == [AlertChange.REMINDED]


async def test_the_worker_reminds(loop: Loop) -> None:
    assert any(job.name == "remind_unacknowledged_alerts" for job in JOBS)
    alert = await _firing(loop, severity="critical")
    done = await run_jobs_once(loop.state, now=NOW + 61 * MINUTE)
    assert done["remind_unacknowledged_alerts"] == 1
    assert (await _alert(loop, alert.id)).reminders == 1


def test_the_period() -> None:
    assert remind_period(None, "critical") == DEFAULT_REMIND_AFTER
    assert remind_period(None, "warning") is None
    assert remind_period(None, "info") is None
    assert remind_period(15, "info") == dt.timedelta(minutes=15)
    assert remind_period(240, "critical") == dt.timedelta(hours=4)


moments = st.datetimes(
    min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 1, 1), timezones=st.just(dt.UTC)
)


@given(
    fired=moments,
    reminded=st.none() | moments,
    snoozed=st.none() | moments,
    minutes=st.integers(5, 10080),
)
def test_a_reminder_is_never_due_before_a_period_has_passed_since_anything_happened(
    fired: dt.datetime, reminded: dt.datetime | None, snoozed: dt.datetime | None, minutes: int
) -> None:
    period = dt.timedelta(minutes=minutes)
    due = reminder_due(fired_at=fired, reminded_at=reminded, snoozed_until=snoozed, period=period)
    for moment in (fired, reminded, snoozed):
        if moment is not None:
            assert due >= moment + period
    assert due - period in {m for m in (fired, reminded, snoozed) if m is not None}
