"""Each scope's anytime-valid monitor in the product: fed in order and kept between batches,
read by the re-assessment, which stores an actionable verdict only once the monitor confirms it,
and shown by the calibration report."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_engine.monitoring import CalibrationMonitor
from backend.calibration.models import CalibrationMonitorState, CalibrationVerdict
from backend.calibration.monitors import (
    feed_monitors,
    load_monitors,
    monitor_reading,
    monitors_through,
)
from backend.calibration.repository import calibration_report
from backend.calibration.rollup import add_predictions
from backend.calibration.service import reassess
from backend.outcomes.resolution import ResolvedPrediction
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.factories import NOW, World, build_world

TODAY = NOW.date()
DAY = TODAY - dt.timedelta(days=40)  # matured for every action type
RNG = np.random.default_rng(20261207)
P = RNG.uniform(0.05, 0.95, 600)
Y = (RNG.random(600) < 0.6 * P).astype(float)  # overconfident


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    async with transaction(sessions) as session:
        return await build_world(session, actions_per_agent=0)


async def test_monitors_are_fed_in_batches_and_read_back(sessions, world) -> None:
    org, agent = world.orgs["north"].id, world.agents["rep_a1"].id
    async with transaction(sessions) as session:
        for cut, through in ((slice(0, 250), DAY), (slice(250, 600), DAY + dt.timedelta(days=1))):
            await feed_monitors(
                session,
                organization_id=org,
                action_type="escalation",
                outcomes={agent: (P[cut], Y[cut]), None: (P[cut], Y[cut])},
                through=through,
                now=NOW,
            )
    async with sessions() as session:
        monitors = await load_monitors(
            session, organization_id=org, action_type="escalation", agent_ids=[agent, None, 999]
        )
        fed = await monitors_through(
            session, organization_id=org, action_type="escalation", agent_ids=[agent, None]
        )
        rows = list(await session.scalars(select(CalibrationMonitorState)))
    whole = CalibrationMonitor().update(P, Y)
    for scope in (agent, None):  # two batches equal one, to rounding
        got = monitors[scope]
        assert got.n == whole.n and got.max_log_e == pytest.approx(whole.max_log_e)
        assert list(got.log_wealth) == pytest.approx(list(whole.log_wealth))
    assert monitors[999] == CalibrationMonitor()  # never fed
    assert fed == {agent: DAY + dt.timedelta(days=1), None: DAY + dt.timedelta(days=1)}
    assert sorted((r.scope, r.scope_key) for r in rows) == [
        ("agent", f"agent:{agent}"),
        ("organization", "organization"),
    ]
    assert all(r.version == 2 for r in rows)  # one row per scope, updated in place


async def rollup(sessions, world: World) -> None:
    agent = world.agents["rep_a1"]
    async with transaction(sessions) as session:
        await add_predictions(
            session,
            [
                ResolvedPrediction(agent.organization_id, agent.id, "escalation", DAY, p, y)
                for p, y in zip(P.tolist(), Y.tolist(), strict=True)
            ],
        )


async def stored(sessions, scope_key: str) -> CalibrationVerdict:
    async with sessions() as session:
        verdict = await session.scalar(
            select(CalibrationVerdict).where(CalibrationVerdict.scope_key == scope_key)
        )
    assert verdict is not None
    return verdict


async def test_a_verdict_acts_only_once_its_monitor_confirms_it(sessions, world) -> None:
    org, agent = world.orgs["north"].id, world.agents["rep_a1"].id
    await rollup(sessions, world)
    async with transaction(sessions) as session:  # the rule sees it; no monitor was fed yet
        early = await reassess(
            session, organization_id=org, agent_id=agent, action_type="escalation", today=TODAY
        )
    assert early.verdict.kind.value == "calibrated"
    held = await stored(sessions, f"agent:{agent}")
    assert held.verdict == "calibrated" and held.evidence["eValue"] == 1.0
    assert held.evidence["reason"].startswith("Not yet confirmed at any horizon: Overconfident")
    async with transaction(sessions) as session:
        await feed_monitors(
            session,
            organization_id=org,
            action_type="escalation",
            outcomes={agent: (P, Y), None: (P, Y)},
            through=DAY,
        )
        later = await reassess(
            session, organization_id=org, agent_id=agent, action_type="escalation", today=TODAY
        )
    assert later.verdict.kind.value == "overconfident"
    for key in (f"agent:{agent}", "organization"):
        confirmed = await stored(sessions, key)
        assert confirmed.verdict == "overconfident" and confirmed.evidence["eValue"] >= 20
        assert confirmed.evidence["anytimePValue"] <= 0.05


async def test_the_report_shows_the_monitor_of_an_agent_or_the_organisation(
    sessions, world
) -> None:
    org, agent = world.orgs["north"].id, world.agents["rep_a1"].id
    await rollup(sessions, world)
    async with transaction(sessions) as session:
        await feed_monitors(
            session,
            organization_id=org,
            action_type="escalation",
            outcomes={agent: (P, Y)},
            through=DAY,
        )
    viewer = Viewer.system(org)
    async with sessions() as session:
        one = await calibration_report(
            session, viewer, action_type="escalation", agent_id=agent, today=TODAY
        )
        everyone = await calibration_report(session, viewer, action_type="escalation", today=TODAY)
        team = await calibration_report(
            session,
            viewer,
            action_type="escalation",
            team_id=world.teams["alpha"].id,
            today=TODAY,
        )
        reading = await monitor_reading(
            session, organization_id=org, action_type="escalation", agent_id=agent
        )
    assert one.monitor == reading and reading.through == DAY
    assert one.monitor.monitor.alarm(alpha=0.05) and one.monitor.monitor.direction == "below"
    assert everyone.monitor is not None and everyone.monitor.through is None  # never fed
    assert team.monitor is None
