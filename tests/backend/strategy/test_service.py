"""The strategic view, what if and win probabilities on hand-built rows: who may read them, and
numbers worked by hand (no wall clock: `today` and `now` are given)."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics_engine.calibration import STAT_FIELDS
from analytics_engine.strategy import Advice
from backend.actions.models import AgentAction
from backend.auth.service import viewer_for_user
from backend.calibration.models import CalibrationStat
from backend.crm.models import Deal
from backend.errors import DomainError, NotFoundError, PermissionDeniedError
from backend.policy.models import AgentPolicy
from backend.rollups import rebuild_all
from backend.strategy.service import (
    deal_win_probability,
    strategic_view,
    what_if_view,
    win_probability_reliability,
)
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.backend.conftest import T0, Loop

DAY = dt.timedelta(days=1)
TODAY = (T0 + 60 * DAY).date()  # the meetings' 30-day windows of T0 have all closed


def _stat(org: int, agent: int, bin_: int, n: int, p: float, y: float) -> CalibrationStat:
    sums = dict.fromkeys(STAT_FIELDS, 0.0)
    sums.update(count=n, sum_p=n * p, sum_p2=n * p * p, sum_y=n * y, sum_y2=n * y)
    return CalibrationStat(
        organization_id=org,
        agent_id=agent,
        action_type="meeting",
        day=T0.date(),
        bin=bin_,
        **sums,
    )


async def _executive(loop: Loop, key: str = "exec_n") -> Viewer:
    async with loop.state.sessions() as session:
        return await viewer_for_user(session, loop.world.users[key])  # type: ignore[attr-defined]


async def _meetings(loop: Loop) -> None:
    """rep_a1's agent: 10 meetings on T0; 40 decided outcomes at raw 0.9 (80% attended) and 40
    at raw 0.3 (20%): 80 outcomes, too few for a map, so calibrated = raw (identity). Its
    policy: escalate below 0.2, act alone from 0.75."""
    world = loop.world
    agent = world.agents["rep_a1"]  # type: ignore[attr-defined]
    org = agent.organization_id
    async with transaction(loop.state.sessions) as session:
        for i in range(10):
            session.add(
                AgentAction(
                    organization_id=org,
                    agent_id=agent.id,
                    action_type="meeting",
                    confidence=0.5,
                    idempotency_key=f"m{i}",
                    occurred_at=T0,
                )
            )
        session.add(_stat(org, agent.id, 17, 40, 0.9, 0.8))
        session.add(_stat(org, agent.id, 5, 40, 0.3, 0.2))
        session.add(
            AgentPolicy(
                organization_id=org,
                agent_id=agent.id,
                action_type="meeting",
                escalate_below=0.2,
                autonomous_above=0.75,
            )
        )
        await session.flush()
        for statement in rebuild_all(session.get_bind().dialect.name):
            await session.execute(statement)


async def test_what_if_projects_the_range_by_hand(loop: Loop) -> None:
    await _meetings(loop)
    executive = await _executive(loop)
    view = await what_if_view(
        loop.state.reads,
        executive,
        action_type="meeting",
        autonomy_threshold=0.25,
        since=T0.date(),
        until=T0.date(),
        today=TODAY,
    )
    assert view.recalibration_method == "identity" and view.decided == 80
    assert view.actions == 10 and view.matured_until == T0.date()
    now, then = view.projection.current, view.projection.proposed
    # now: the 0.9 half (5 of 10 actions) acts alone, the 0.3 half is reviewed; 5 x 0.1 errors
    assert (now.autonomous, now.reviewed, now.escalated) == (5, 5, 0)
    assert now.errors.value == pytest.approx(0.5)
    # at 0.25 all act alone: + 5 x 0.7 errors
    assert then.autonomous == 10 and then.errors.value == pytest.approx(4.0)
    assert view.projection.change.errors.value == pytest.approx(3.5)
    assert view.calibrated_at_threshold == pytest.approx(0.25)
    assert {a.name for a in view.assumptions} >= {"minutes_per_task", "loaded_hourly_cost"}


async def test_what_if_names_bad_input(loop: Loop) -> None:
    await _meetings(loop)
    executive = await _executive(loop)
    for kwargs, field in (
        ({"autonomy_threshold": 1.5}, "autonomyThreshold"),
        ({"autonomy_threshold": 0.5, "escalation_threshold": 0.7}, "escalationThreshold"),
        ({"autonomy_threshold": 0.5, "action_type": "Not A Type"}, "actionType"),
    ):
        args = {"action_type": "meeting", **kwargs}
        with pytest.raises(DomainError) as bad:
            await what_if_view(loop.state.reads, executive, today=TODAY, **args)  # type: ignore[arg-type]
        assert bad.value.field == field
    with pytest.raises(NotFoundError):
        await what_if_view(
            loop.state.reads,
            executive,
            action_type="webinar",
            autonomy_threshold=0.5,
            today=TODAY,
        )


async def test_the_strategic_view_is_for_executives_and_holds_without_a_baseline(
    loop: Loop,
) -> None:
    await _meetings(loop)
    for viewer in (loop.rep, loop.manager, loop.agent):
        with pytest.raises(PermissionDeniedError):
            await strategic_view(loop.state.reads, viewer, today=TODAY)
    view = await strategic_view(
        loop.state.reads, await _executive(loop), since=T0.date(), until=T0.date(), today=TODAY
    )
    meeting = next(t for t in view.action_types if t.action_type == "meeting")
    assert meeting.actions == 10 and meeting.current.autonomous == 5
    # 80 outcomes: insufficient data for a verdict, and no human baseline: hold
    assert meeting.recommendation.advice is Advice.HOLD
    assert any("No human baseline" in r for r in meeting.reasons)


async def _deals(loop: Loop) -> dict[str, int]:
    world = loop.world
    ids = {}
    async with transaction(loop.state.sessions) as session:
        for key, stage, owner in (
            ("won1", "closed_won", "rep_a1"),
            ("won2", "closed_won", "rep_a1"),
            ("lost", "closed_lost", "rep_a1"),
            ("open", "proposal", "rep_a1"),
            ("south", "proposal", "rep_s1"),
        ):
            agent = world.agents[owner]  # type: ignore[attr-defined]
            deal = Deal(
                organization_id=agent.organization_id,
                name=key,
                stage=stage,
                owner_id=agent.owner_id,
                agent_id=agent.id,
            )
            session.add(deal)
            await session.flush()
            ids[key] = deal.id
    return ids


async def test_a_deals_win_probability_and_a_foreign_deal(loop: Loop) -> None:
    ids = await _deals(loop)
    now = T0 + 60 * DAY
    found = await deal_win_probability(loop.state.reads, loop.rep, deal_id=ids["open"], now=now)
    # 3 closed deals (too few for the model), none with stage moves: all "reached" the first
    # stage; the open deal is at proposal (index 3): no closed deal reached it -> (0 + 1/2) / 1
    assert found.method == "stage_rate" and found.stage_reached == "proposal"
    assert found.probability is not None and found.probability.value == pytest.approx(0.5)
    assert (found.probability.lower, found.probability.upper) == (0.0, 1.0)
    assert found.reliability.closed_deals == 3 and found.reliability.won_deals == 2
    with pytest.raises(NotFoundError):
        await deal_win_probability(loop.state.reads, loop.rep, deal_id=ids["south"], now=now)
    closed = await deal_win_probability(loop.state.reads, loop.rep, deal_id=ids["won1"], now=now)
    assert closed.probability is None and closed.reliability.closed_deals == 2
    rel = await win_probability_reliability(loop.state.reads, loop.rep, now=now)
    assert rel.closed_deals == 3 and rel.reliability.closed == 3
    with pytest.raises(PermissionDeniedError):
        await win_probability_reliability(loop.state.reads, loop.agent, now=now)
