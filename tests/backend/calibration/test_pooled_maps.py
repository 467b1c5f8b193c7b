"""Pooled recalibration maps in the product: `reassess` fits an agent's map against its siblings
(the other agents of the organisation for the action type) on the calibration rollups, chooses
among its own and the pooled map by leave-one-out evidence, and stores and reports why."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_engine.calibration import CalibrationStats
from analytics_engine.pooling import group_prior
from analytics_engine.recalibration import RecalibrationMap, fit_recalibration
from analytics_engine.team_pooling import team_prior
from backend.agents.models import Agent
from backend.calibration.models import CalibrationVerdict
from backend.calibration.repository import calibration_report
from backend.calibration.rollup import add_predictions
from backend.calibration.service import MapInForce, reassess, recalibration_in_force
from backend.orgs.models import Team
from backend.outcomes.resolution import ResolvedPrediction
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from graphql_schema.calibration.types import PooledToward, RecalibrationMapType
from tests.factories import NOW, build_world

TODAY = NOW.date()
DAY = TODAY - dt.timedelta(days=20)  # matured, inside the trailing window
GRID = np.linspace(0.02, 0.98, 49)


def truth(p: np.ndarray, temperature: float) -> np.ndarray:
    """Success probability of an agent distorted by ``temperature`` (2: overconfident)."""
    z = np.log(p / (1 - p)) / temperature
    return np.asarray(1 / (1 + np.exp(-z)))


def outcomes(rng: np.random.Generator, n: int, temperature: float) -> tuple[np.ndarray, ...]:
    p = np.round(rng.uniform(0.02, 0.98, n), 3)
    return p, (rng.random(n) < truth(p, temperature)).astype(float)


def error(m: RecalibrationMap, temperature: float) -> float:
    """Mean distance of a map from the truth over raw confidences 0.02..0.98."""
    return float(np.mean(np.abs(m.apply(GRID) - truth(GRID, temperature))))


class Org:
    """Organisation north of the factories' world with extra agents, all on team alpha."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.rng = np.random.default_rng(20261207)

    async def build(self, siblings: int) -> None:
        async with transaction(self.sessions) as session:
            self.world = await build_world(session, actions_per_agent=0)
            self.org = self.world.orgs["north"].id
            owner = self.world.users["rep_a1"]
            self.agents = []
            for i in range(siblings + 2):
                agent = Agent(
                    organization_id=self.org,
                    name=f"pooled {i}",
                    owner_id=owner.id,
                    team_id=owner.team_id,
                )
                session.add(agent)
                self.agents.append(agent)
            await session.flush()
            self.ids = [a.id for a in self.agents]

    async def add(self, agent_id: int, n: int, temperature: float) -> CalibrationStats:
        """``n`` resolved e-mails of ``agent_id`` into the rollup; their statistics."""
        p, y = outcomes(self.rng, n, temperature)
        async with transaction(self.sessions) as session:
            await add_predictions(
                session,
                [
                    ResolvedPrediction(self.org, agent_id, "email", DAY, float(pi), float(yi))
                    for pi, yi in zip(p, y, strict=True)
                ],
            )
        return CalibrationStats.from_arrays(p, y, n_bins=20)

    async def reassess(self, agent_id: int) -> None:
        async with transaction(self.sessions) as session:
            await reassess(
                session,
                organization_id=self.org,
                agent_id=agent_id,
                action_type="email",
                today=TODAY,
                now=NOW,
            )

    async def in_force(self, agent_id: int) -> MapInForce:
        async with self.sessions() as session:
            return await recalibration_in_force(
                session, organization_id=self.org, agent_id=agent_id, action_type="email"
            )

    async def stored(self, agent_id: int | None) -> CalibrationVerdict:
        key = f"agent:{agent_id}" if agent_id is not None else "organization"
        async with self.sessions() as session:
            row = await session.scalar(
                select(CalibrationVerdict).where(
                    CalibrationVerdict.organization_id == self.org,
                    CalibrationVerdict.scope_key == key,
                    CalibrationVerdict.action_type == "email",
                )
            )
            assert row is not None
            return row


@pytest.fixture
async def org(sessions: async_sessionmaker[AsyncSession]) -> Org:
    return Org(sessions)


async def test_a_new_agent_alike_its_siblings_gets_a_pooled_map_closer_to_the_truth(
    org: Org,
) -> None:
    # Eight agents distorted alike (temperature about 2, overconfident), 400 outcomes each.
    await org.build(siblings=8)
    *siblings, young, newcomer = org.ids
    spread = 2 * np.exp(0.1 * org.rng.standard_normal(8))  # log-temperature sd 0.1
    for agent_id, temperature in zip(siblings, spread, strict=True):
        await org.add(agent_id, 400, float(temperature))
    own_stats = await org.add(young, 40, 2.0)
    await org.reassess(young)

    row = await org.stored(young)
    basis = row.recalibration_basis
    assert row.verdict == "insufficient_data"  # 40 outcomes: too few to judge
    assert basis["source"] == "pooled" and basis["chosen"] == "pooled"
    assert basis["siblings"] == 8  # every other agent with outcomes, never itself
    assert 0.5 < basis["pooledWeight"] < 1  # mostly the siblings' evidence at 40 outcomes
    assert basis["reason"].startswith("Pooled: ") and "40 outcomes" in basis["reason"]
    assert set(basis["leaveOneOutLogLoss"]) == {
        "identity",
        "platt",
        "isotonic",
        "histogram",
        "pooled",
    }
    assert "leave-one-out" in basis["choiceReason"]

    # In force despite the insufficient verdict, and nearer the truth than its own fit would be.
    in_force = await org.in_force(young)
    assert in_force.method == "platt" and in_force.basis["source"] == "pooled"
    own_fit = fit_recalibration(own_stats, method="platt")
    assert error(in_force, 2.0) < 0.5 * error(own_fit, 2.0)
    assert error(in_force, 2.0) < 0.03
    assert 0.4 < in_force.slope < 0.65  # the siblings' slope 1/T ≈ 0.5

    # A brand-new agent (no outcomes) starts from the organisation's pooled map.
    fresh = await org.in_force(newcomer)
    assert fresh.basis["source"] == "pooled" and fresh.basis["pooledWeight"] == 1.0
    assert fresh.basis["reason"].startswith("No outcomes yet: the map pooled from 9 siblings")
    assert error(fresh, 2.0) < 0.03
    organization = await org.stored(None)
    assert organization.recalibration_basis["source"] == "pooled"


async def test_an_agent_unlike_its_siblings_keeps_its_own_map(org: Org) -> None:
    await org.build(siblings=8)
    *siblings, unlike, _ = org.ids
    for agent_id in siblings:
        await org.add(agent_id, 400, 2.0)  # overconfident
    await org.add(unlike, 1000, 0.5)  # underconfident: the other way
    await org.reassess(unlike)

    basis = (await org.stored(unlike)).recalibration_basis
    assert basis["source"] == "own" and basis["pooledWeight"] == 0.0
    assert basis["conflictPValue"] < 0.05
    assert "unlike its 8 siblings" in basis["reason"]
    assert basis["leaveOneOutLogLoss"]["pooled"] is None  # not offered after the conflict
    in_force = await org.in_force(unlike)
    assert in_force.basis["source"] == "own"
    assert error(in_force, 0.5) < 0.03  # its own truth, not dragged toward slope 0.5
    assert error(in_force, 0.5) < error(RecalibrationMap("platt", slope=0.5), 0.5) / 4


async def test_without_two_fitted_siblings_nothing_is_pooled_and_the_report_says_so(
    org: Org,
) -> None:
    await org.build(siblings=1)
    sibling, agent_id, _ = org.ids
    await org.add(sibling, 400, 2.0)
    await org.add(agent_id, 600, 2.0)
    await org.reassess(agent_id)

    basis = (await org.stored(agent_id)).recalibration_basis
    assert basis["source"] == "unpooled" and basis["pooledWeight"] == 0.0
    assert basis["reason"].startswith("Fewer than two other agents")
    # The agent's report shows the map in force with its basis (what the API reads).
    async with org.sessions() as session:
        report = await calibration_report(
            session,
            Viewer.system(org.org),
            action_type="email",
            agent_id=agent_id,
            since=DAY,
            until=TODAY,
            today=TODAY,
        )
    assert isinstance(report.recalibration, MapInForce)
    assert report.recalibration.basis["source"] == "unpooled"
    assert report.recalibration.method == basis["chosen"]


async def test_an_agent_leans_toward_its_own_team(org: Org) -> None:
    # Three teams of four agents distorted alike within a team (temperatures about 1.25, 2 and
    # 4) and unlike between them; a young agent of the third team with 50 outcomes. Its prior is
    # the three-level model's, leaning toward its team (oracle: the engine's `team_prior` on the
    # same statistics); the organisation's prior would put its slope near the average.
    await org.build(siblings=12)
    *siblings, young, _ = org.ids
    async with transaction(org.sessions) as session:
        teams = [Team(organization_id=org.org, name=f"pod {i}") for i in range(3)]
        session.add_all(teams)
        await session.flush()
        for i, agent_id in enumerate([*siblings, young]):
            agent = await session.get(Agent, agent_id)
            assert agent is not None
            agent.team_id = teams[min(i // 4, 2)].id
    labels, stats = [], []
    for i, agent_id in enumerate(siblings):
        temperature = (1.25, 2.0, 4.0)[i // 4] * float(np.exp(0.1 * org.rng.standard_normal()))
        stats.append(await org.add(agent_id, 1000, temperature))
        labels.append(teams[i // 4].id)
    await org.add(young, 50, 4.0)
    await org.reassess(young)

    basis = (await org.stored(young)).recalibration_basis
    expected = team_prior(stats, labels, teams[2].id)
    assert expected is not None
    assert basis["pooledToward"] == "team" and basis["siblings"] == 12
    # The spreads are estimated once for all the agents, this one included (as the
    # organisation's are: one REML per organisation and action type, not one per agent), so the
    # prior is within a hair of the exact one without it.
    assert basis["priorSlope"] == pytest.approx(float(expected.mean[1]), abs=0.005)
    assert basis["priorIntercept"] == pytest.approx(float(expected.mean[0]), abs=0.005)
    whole = group_prior(stats)
    assert whole is not None
    # the team's slope is about 1/4; the organisation's about the average of 1/1.25, 1/2, 1/4
    assert basis["priorSlope"] < 0.4 < float(whole.mean[1])
    shown = RecalibrationMapType.of(await org.in_force(young))  # what the API says
    assert shown.pooled_toward is PooledToward.TEAM and shown.siblings == 12
