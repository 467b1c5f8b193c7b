"""Threshold, anomaly and drift rules evaluated on hand-built rollups: they fire, hold their
hysteresis band, resolve after the hold period, and two evaluations at once raise one alert."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import func, select

from backend.alerts.evaluation import evaluate_rule
from backend.alerts.events import AlertChange, AlertChanged
from backend.alerts.models import Alert
from backend.unit_of_work import transaction
from backend.worker import JOBS, run_jobs_once
from tests.backend.alerts.builders import LAST_MATURED, add_rule, reply_history
from tests.backend.conftest import Loop
from tests.factories import NOW


def _heard(loop: Loop) -> list[AlertChanged]:
    heard: list[AlertChanged] = []

    async def listen(events: Any) -> None:
        heard.extend(events)

    loop.state.bus.subscribe(AlertChanged, listen)
    return heard


async def _evaluate(loop: Loop, rule_id: int, now: dt.datetime) -> AlertChange | None:
    async with transaction(loop.state.sessions) as session:
        return await evaluate_rule(session, rule_id, now=now)


async def _alerts(loop: Loop, rule_id: int) -> list[Alert]:
    async with loop.state.sessions() as session:
        statement = select(Alert).where(Alert.rule_id == rule_id).order_by(Alert.id)
        return list(await session.scalars(statement))


def _recent(rate_recent: float, rate_before: float, days: int = 7) -> Any:
    """Replies out of 100: ``rate_recent`` on the last ``days`` matured days, else before."""
    first_recent = LAST_MATURED - dt.timedelta(days=days - 1)
    return lambda day: round(100 * (rate_recent if day >= first_recent else rate_before))


async def test_a_sustained_threshold_fires_holds_its_band_and_resolves_after_the_hold(
    loop: Loop,
) -> None:
    world: Any = loop.world
    agent, team = world.agents["rep_a1"], world.teams["alpha"]
    heard = _heard(loop)
    async with transaction(loop.state.sessions) as session:
        rule = await add_rule(
            session,
            agent.organization_id,
            scope="team",
            team_id=team.id,
            direction="below",
            threshold=0.06,
        )
        await reply_history(session, agent, days=30, sent=100, replies=_recent(0.10, 0.10))
    assert await _evaluate(loop, rule.id, NOW) is None  # 10 % a day: nothing to say

    # One bad day inside the window is not a sustained level: 7 days pooled are 9.1 %.
    async with transaction(loop.state.sessions) as session:
        await reply_history(session, agent, days=30, sent=100, replies=_recent(0.04, 0.10, 1))
    assert await _evaluate(loop, rule.id, NOW) is None

    async with transaction(loop.state.sessions) as session:
        await reply_history(session, agent, days=30, sent=100, replies=_recent(0.04, 0.10))
    assert await _evaluate(loop, rule.id, NOW) is AlertChange.CREATED
    [alert] = await _alerts(loop, rule.id)
    assert (alert.state, alert.team_id, alert.agent_id) == ("firing", team.id, None)
    assert alert.observed == 0.04 and alert.expected == 0.06
    assert alert.evidence["n"] == 700
    assert alert.evidence["window"] == {
        "from": (LAST_MATURED - dt.timedelta(days=6)).isoformat(),
        "to": LAST_MATURED.isoformat(),
    }
    assert [(e.change, e.alert_id) for e in heard] == [(AlertChange.CREATED, alert.id)]

    # 6.3 % is above the threshold but inside the band (clears at 6.6 %): still open.
    later = NOW + dt.timedelta(hours=1)
    async with transaction(loop.state.sessions) as session:
        await reply_history(session, agent, days=30, sent=100, replies=_recent(0.063, 0.10))
    assert await _evaluate(loop, rule.id, later) is None
    [alert] = await _alerts(loop, rule.id)
    assert alert.state == "firing" and alert.cleared_at is None

    # Back to 10 %: cleared, but it resolves only once that held for 24 hours.
    async with transaction(loop.state.sessions) as session:
        await reply_history(session, agent, days=30, sent=100, replies=_recent(0.10, 0.10))
    assert await _evaluate(loop, rule.id, later) is None
    [alert] = await _alerts(loop, rule.id)
    assert alert.state == "firing" and alert.cleared_at == later
    assert await _evaluate(loop, rule.id, later + dt.timedelta(hours=23)) is None
    done = later + dt.timedelta(hours=24)
    assert await _evaluate(loop, rule.id, done) is AlertChange.RESOLVED
    [alert] = await _alerts(loop, rule.id)
    assert (alert.state, alert.resolved_at, alert.resolved_by_id) == ("resolved", done, None)
    assert alert.open_key is None
    assert [e.change for e in heard] == [AlertChange.CREATED, AlertChange.RESOLVED]

    # The next breach is a new alert.
    async with transaction(loop.state.sessions) as session:
        await reply_history(session, agent, days=30, sent=100, replies=_recent(0.03, 0.10))
    assert await _evaluate(loop, rule.id, done) is AlertChange.CREATED
    assert [a.state for a in await _alerts(loop, rule.id)] == ["resolved", "firing"]


async def test_two_evaluations_at_once_raise_one_alert(loop: Loop) -> None:
    world: Any = loop.world
    agent = world.agents["rep_a1"]
    heard = _heard(loop)
    async with transaction(loop.state.sessions) as session:
        rule = await add_rule(
            session,
            agent.organization_id,
            scope="agent",
            agent_id=agent.id,
            team_id=agent.team_id,
            direction="below",
            threshold=0.06,
        )
        await reply_history(session, agent, days=10, sent=100, replies=_recent(0.02, 0.02))
    changes = await asyncio.gather(*(_evaluate(loop, rule.id, NOW) for _ in range(4)))
    assert changes.count(AlertChange.CREATED) == 1
    assert len(await _alerts(loop, rule.id)) == 1
    assert [e.change for e in heard] == [AlertChange.CREATED]


async def test_too_few_outcomes_are_not_judged(loop: Loop) -> None:
    world: Any = loop.world
    agent = world.agents["rep_a1"]
    async with transaction(loop.state.sessions) as session:
        rule = await add_rule(
            session,
            agent.organization_id,
            scope="agent",
            agent_id=agent.id,
            team_id=agent.team_id,
            direction="below",
            threshold=0.5,
        )
        await reply_history(session, agent, days=7, sent=2, replies=lambda day: 0)
    assert await _evaluate(loop, rule.id, NOW) is None  # 14 outcomes < 20
    assert await _alerts(loop, rule.id) == []


async def test_a_calibration_error_without_matured_outcomes_is_not_judged(loop: Loop) -> None:
    """A threshold on the calibration error of a type with no matured outcome in its window
    (an action type's first weeks) judges nothing: no alert, and no failure of the run."""
    world: Any = loop.world
    agent = world.agents["rep_a1"]
    async with transaction(loop.state.sessions) as session:
        rule = await add_rule(
            session,
            agent.organization_id,
            metric="calibration_error",
            action_type="escalation",
            direction="above",
            threshold=0.05,
        )
    assert await _evaluate(loop, rule.id, NOW) is None
    assert await _alerts(loop, rule.id) == []


def _steady_then(drop_days: int, drop_rate: float) -> Any:
    """60 of 200 a day (30 %), weekends 20 %; the last ``drop_days`` matured days at
    ``drop_rate`` of their usual rate."""
    first_dropped = LAST_MATURED - dt.timedelta(days=drop_days - 1)

    def replies(day: dt.date) -> int:
        usual = 40 if day.weekday() >= 5 else 60
        return round(usual * drop_rate) if day >= first_dropped else usual

    return replies


async def test_an_anomaly_is_judged_against_its_weekday_baseline(loop: Loop) -> None:
    world: Any = loop.world
    agent = world.agents["rep_a1"]
    async with transaction(loop.state.sessions) as session:
        drops = await add_rule(
            session, agent.organization_id, name="drops", kind="anomaly", direction="below"
        )
        spikes = await add_rule(
            session, agent.organization_id, name="spikes", kind="anomaly", direction="above"
        )
        # Steady weekly pattern: weekends at 20 % are no anomaly.
        await reply_history(session, agent, days=90, sent=200, replies=_steady_then(0, 1.0))
    assert await _evaluate(loop, drops.id, NOW) is None
    async with transaction(loop.state.sessions) as session:
        await reply_history(session, agent, days=90, sent=200, replies=_steady_then(1, 0.4))
    assert await _evaluate(loop, drops.id, NOW) is AlertChange.CREATED
    assert await _evaluate(loop, spikes.id, NOW) is None
    [alert] = await _alerts(loop, drops.id)
    usual = 0.2 if LAST_MATURED.weekday() >= 5 else 0.3
    assert alert.evidence["day"] == LAST_MATURED.isoformat()
    assert alert.evidence["finding"] == "day" and alert.evidence["direction"] == "drop"
    assert alert.observed == round(200 * usual * 0.4) / 200
    # the baseline is the same weekday's rate (shrunk a little towards the whole window's)
    assert abs(alert.expected - usual) < 0.01


async def test_a_slow_drop_is_found_by_the_cusum_drift_rule(loop: Loop) -> None:
    world: Any = loop.world
    agent = world.agents["rep_a1"]
    async with transaction(loop.state.sessions) as session:
        drift = await add_rule(
            session,
            agent.organization_id,
            name="drift",
            kind="drift",
            direction="below",
            window_days=14,
        )
        anomaly = await add_rule(
            session, agent.organization_id, name="anomaly", kind="anomaly", direction="below"
        )
        # 15 % lower for 14 days: too small for any one day, not for the CUSUM.
        await reply_history(session, agent, days=90, sent=200, replies=_steady_then(14, 0.85))
    assert await _evaluate(loop, anomaly.id, NOW) is None
    assert await _evaluate(loop, drift.id, NOW) is AlertChange.CREATED
    [alert] = await _alerts(loop, drift.id)
    assert alert.evidence["finding"] == "sustained" and alert.evidence["direction"] == "drop"
    assert alert.evidence["startDay"] >= (LAST_MATURED - dt.timedelta(days=13)).isoformat()


async def test_the_worker_evaluates_the_rules(loop: Loop) -> None:
    assert any(job.name == "evaluate_alert_rules" for job in JOBS)
    world: Any = loop.world
    agent = world.agents["rep_a1"]
    async with transaction(loop.state.sessions) as session:
        rule = await add_rule(session, agent.organization_id, direction="below", threshold=0.06)
        disabled = await add_rule(
            session,
            agent.organization_id,
            name="off",
            direction="below",
            threshold=0.06,
            enabled=False,
        )
        await reply_history(session, agent, days=10, sent=100, replies=_recent(0.02, 0.02))
    done = await run_jobs_once(loop.state, now=NOW)
    assert done["evaluate_alert_rules"] == 1
    again = await run_jobs_once(loop.state, now=NOW)
    assert again["evaluate_alert_rules"] == 0
    assert len(await _alerts(loop, rule.id)) == 1
    assert await _alerts(loop, disabled.id) == []
    async with loop.state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 1
