"""Following drift in the product: an agent's change detector reads each matured day's outcomes
through its map in force; a steady agent is left alone, a changed one is refitted from the day
of its change, leaning on its map before, and the calibration report says so."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_engine.drift import ChangeDetector, detect_change
from backend.calibration.drift import DecidedDays, follow_drift, load_changes
from backend.calibration.maturity import TRAILING_DAYS, matured_until
from backend.calibration.models import CalibrationMonitorState, CalibrationVerdict
from backend.calibration.monitors import feed_monitors
from backend.calibration.repository import calibration_report
from backend.calibration.rollup import add_predictions, load_agents_stats
from backend.calibration.service import reassess_agents, recalibrations_in_force
from backend.outcomes.resolution import ResolvedPrediction
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.factories import NOW, World, build_world

TODAY = NOW.date()
LAG = TODAY - matured_until(None, "escalation", TODAY)  # a day matures LAG days later
FIRST = TODAY - dt.timedelta(days=80)  # 30 days from here, all inside the trailing window
DAYS, PER_DAY, CHANGE = 30, 40, 15  # the agent changes on day 15 (after 600 outcomes)


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    async with transaction(sessions) as session:
        return await build_world(session, actions_per_agent=0)


def outcomes(changes: bool, seed: int = 20261207) -> tuple[np.ndarray, np.ndarray]:
    """``DAYS`` days of ``PER_DAY`` outcomes: calibrated, then (``changes``) from day
    ``CHANGE`` on succeeding half the time whatever the confidence."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, (DAYS, PER_DAY))
    truth = p.copy()
    if changes:
        truth[CHANGE:] = 0.5
    return p, (rng.random(p.shape) < truth).astype(float)


async def live(
    sessions, world: World, p: np.ndarray, y: np.ndarray, days: range = range(DAYS)
) -> list[dt.date]:
    """Each of the ``days`` matures in turn and goes through what
    ``learning.follow_calibration`` does: the monitors, then the detector against the map in
    force, then the re-assessment. Returns the days on which a change was found."""
    org, agent = world.orgs["north"].id, world.agents["rep_a1"].id
    found = []
    for i in days:
        day = FIRST + dt.timedelta(days=i)
        row_p, row_y = p[i].tolist(), y[i].tolist()
        async with transaction(sessions) as session:
            await add_predictions(
                session,
                [
                    ResolvedPrediction(org, agent, "escalation", day, a, b)
                    for a, b in zip(row_p, row_y, strict=True)
                ],
            )
        async with transaction(sessions) as session:
            await feed_monitors(
                session,
                organization_id=org,
                action_type="escalation",
                outcomes={agent: (row_p, row_y)},
                through=day,
                now=NOW,
            )
            maps = await recalibrations_in_force(
                session, organization_id=org, policies=[(agent, "escalation")]
            )
            changed = await follow_drift(
                session,
                organization_id=org,
                action_type="escalation",
                outcomes={agent: DecidedDays([day] * PER_DAY, row_p, row_y)},
                maps={agent: maps[(agent, "escalation")]},
                window_since=day - dt.timedelta(days=TRAILING_DAYS),
                through=day,
                now=NOW,
            )
            await reassess_agents(
                session,
                organization_id=org,
                agent_ids=[agent],
                action_type="escalation",
                today=day + LAG,
                now=NOW,
            )
        if agent in changed:
            found.append(day)
    return found


async def monitor_row(sessions, agent_id: int) -> CalibrationMonitorState:
    async with sessions() as session:
        row = await session.scalar(
            select(CalibrationMonitorState).where(
                CalibrationMonitorState.scope_key == f"agent:{agent_id}"
            )
        )
    assert row is not None
    return row


async def test_a_steady_agent_is_left_alone(sessions, world) -> None:
    agent = world.agents["rep_a1"].id
    p, y = outcomes(changes=False)
    assert await live(sessions, world, p, y) == []
    row = await monitor_row(sessions, agent)
    assert (row.changes, row.changed_on, row.change_prior) == (0, None, None)
    # Watched from the first day its map was fitted on 100 outcomes (day 3, after 120): the
    # stored detector is the one fed those days, one by one, against the maps then in force.
    detector = ChangeDetector.from_dict(row.drift["detector"])
    assert 0 < detector.n <= DAYS * PER_DAY - 120 and detector.statistic < 1000
    assert row.drift["days"] and row.drift["days"][-1] == [
        (FIRST + dt.timedelta(days=DAYS - 1)).isoformat(),
        detector.n,
    ]


async def test_a_changed_agent_is_refitted_from_the_day_of_its_change(sessions, world) -> None:
    org, agent = world.orgs["north"].id, world.agents["rep_a1"].id
    p, y = outcomes(changes=True)
    change_day = FIRST + dt.timedelta(days=CHANGE)
    until = CHANGE + 6
    assert await live(sessions, world, p, y, range(CHANGE)) == []
    found = await live(sessions, world, p, y, range(CHANGE, until))
    assert len(found) == 1 and change_day <= found[0]
    first = await monitor_row(sessions, agent)
    assert first.changes == 1 and first.change_found_on == found[0]
    assert abs((first.changed_on - change_day).days) <= 2
    # the prior is its map before the change: calibrated, slope about 1 (its own Platt fit)
    assert first.change_prior is not None
    assert first.change_prior["mean"] == pytest.approx([0.0, 1.0], abs=0.3)
    # Its map, leaning on that prior, is watched again once fitted on 100 outcomes since the
    # change; a change this large (success 50 % whatever the confidence) may be found once
    # more while the map still leans on its past: then it restarts from a later day.
    found += await live(sessions, world, p, y, range(until, DAYS))
    row = await monitor_row(sessions, agent)
    assert row.changes == len(found) and row.change_found_on == found[-1]
    assert row.changed_on >= first.changed_on
    async with sessions() as session:
        changes = await load_changes(
            session, organization_id=org, action_type="escalation", window_since=FIRST
        )
        stats = await load_agents_stats(
            session,
            organization_id=org,
            action_type="escalation",
            since=FIRST,
            until=FIRST + dt.timedelta(days=DAYS),
            since_by_agent={agent: row.changed_on},
        )
        verdict = await session.scalar(
            select(CalibrationVerdict).where(CalibrationVerdict.scope_key == f"agent:{agent}")
        )
        report = await calibration_report(
            session,
            Viewer.system(org),
            action_type="escalation",
            agent_id=agent,
            today=FIRST + dt.timedelta(days=DAYS - 1) + LAG,
        )
    days_since = (FIRST + dt.timedelta(days=DAYS) - row.changed_on).days
    assert changes[agent].since == row.changed_on and changes[agent].prior is not None
    assert stats[agent].n == days_since * PER_DAY  # the agent counts from its change on
    # its map is refitted on the days since, under its past map, and flattened toward 0.5
    assert verdict is not None and verdict.recalibration_basis["pooledToward"] == "past"
    assert verdict.recalibration_basis["siblings"] == 0
    assert verdict.recalibration_basis["n"] == days_since * PER_DAY
    assert verdict.recalibration_basis["leaveOneOutLogLoss"]["pooled"] is not None  # offered
    recalibrated = report.recalibration.apply(np.array([0.1, 0.9]))
    assert 0.35 < recalibrated[0] <= recalibrated[1] < 0.65  # raw 0.1 and 0.9: about 0.5
    assert report.drift is not None
    assert (report.drift.changed_on, report.drift.found_on, report.drift.changes) == (
        row.changed_on,
        found[-1],
        len(found),
    )
    # a change older than the trailing window is forgotten with it
    async with sessions() as session:
        later = await load_changes(
            session,
            organization_id=org,
            action_type="escalation",
            window_since=row.changed_on + dt.timedelta(days=1),
        )
    assert later == {}


def test_the_detector_reads_a_batch_as_its_outcomes_one_by_one() -> None:
    # The product feeds a day at a time; the state after the days is the state after all.
    p, y = outcomes(changes=False)
    whole = detect_change(p.ravel(), y.ravel())
    state = ChangeDetector()
    for i in range(DAYS):
        state = detect_change(p[i], y[i], state=state).state
    assert state.n == whole.state.n and state.start == whole.state.start
    assert state.log_c == pytest.approx(whole.state.log_c)
