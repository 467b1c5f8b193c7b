"""The analytics service reads what happened in the viewer's scope and the range asked, on the
day it is told is today (no wall clock)."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.actions.service import ActionInput
from backend.analytics.service import rep_dashboard
from backend.auth.service import viewer_for_user
from backend.errors import InvalidInput, NotFoundError
from backend.learning import submit_action
from tests.backend.conftest import T0, Loop

DAY = dt.timedelta(days=1)


async def _act(loop: Loop, key: str, action_type: str, at: dt.datetime) -> None:
    data = ActionInput(action_type=action_type, confidence=0.5, idempotency_key=key, occurred_at=at)
    await submit_action(loop.state, loop.agent, data, now=at)


async def test_a_reps_dashboard_counts_the_range_asked(loop: Loop) -> None:
    await _act(loop, "a", "email", T0)
    await _act(loop, "b", "email", T0 + DAY)
    await _act(loop, "c", "escalation", T0 + DAY)
    await _act(loop, "d", "email", T0 + 5 * DAY)  # outside the range below
    agent_id = loop.world.agents["rep_a1"].id
    board = await rep_dashboard(
        loop.state.reads,
        loop.rep,
        agent_id=agent_id,
        since=T0.date(),
        until=(T0 + DAY).date(),
        today=(T0 + 30 * DAY).date(),
    )
    # By default, the 30 days up to the day given as today.
    default = await rep_dashboard(
        loop.state.reads, loop.rep, agent_id=agent_id, today=(T0 + 29 * DAY).date()
    )
    activity = {a.action_type: (a.actions, a.critical) for a in board.metrics.actions_by_type}
    assert activity == {"email": (2, 0), "escalation": (1, 1)}
    assert (board.range.since, board.range.until) == (T0.date(), (T0 + DAY).date())
    assert board.metrics.interactions == 3
    assert default.range.since == T0.date() and default.metrics.interactions == 4


async def test_another_reps_agent_is_unknown_and_a_bad_range_is_named(loop: Loop) -> None:
    async with loop.state.sessions() as session:
        other = await viewer_for_user(session, loop.world.users["rep_a2"])
    with pytest.raises(NotFoundError):
        await rep_dashboard(
            loop.state.reads, other, agent_id=loop.world.agents["rep_a1"].id, today=T0.date()
        )
    with pytest.raises(InvalidInput) as bad:
        await rep_dashboard(
            loop.state.reads,
            loop.rep,
            agent_id=loop.world.agents["rep_a1"].id,
            since=T0.date(),
            until=T0.date() - DAY,
            today=T0.date(),
        )
    assert bad.value.errors[0].field == "from"
