"""The analytics service reads what happened in the viewer's scope and the range asked, on the
day it is told is today (no wall clock)."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.actions.service import ActionInput
from backend.analytics.service import rep_dashboard
from backend.auth.service import viewer_for_user
from backend.errors import InvalidInput, NotFoundError
from backend.learning import close_expired_windows, submit_action, submit_signals
from backend.signals.service import SignalInput
from tests.backend.conftest import T0, Loop

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


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


async def _reply(loop: Loop, action_id: int, key: str, at: dt.datetime, sentiment: str) -> None:
    signal = SignalInput(
        kind="email.replied",
        source="test",
        external_id=f"reply:{key}",
        occurred_at=at,
        payload={"sentiment": sentiment},
        action_id=action_id,
    )
    await submit_signals(loop.state, loop.agent, [signal], now=at)


async def test_a_rate_counts_only_days_whose_windows_have_closed(loop: Loop) -> None:
    """Week one: four e-mails, one reply, the other windows closed (no reply). Week two, three
    days before today: four e-mails, two early positive replies, two windows still open. The
    reply rate is week one's 1/4, not 3/6; week two is provisional, with its four maturing."""
    early, late = T0, T0 + 10 * DAY
    today = (late + 3 * DAY).date()
    ids = {}
    for n in range(4):
        for label, at in (("early", early), ("late", late)):
            data = ActionInput(
                action_type="email",
                confidence=0.5,
                idempotency_key=f"{label}-{n}",
                occurred_at=at,
            )
            recorded = await submit_action(loop.state, loop.agent, data, now=at)
            ids[label, n] = recorded.action.id
    await _reply(loop, ids["early", 0], "e0", early + HOUR, "positive")
    for n in (0, 1):
        await _reply(loop, ids["late", n], f"l{n}", late + HOUR, "positive")
    await close_expired_windows(loop.state, now=late + 3 * DAY)  # week one's windows close

    board = await rep_dashboard(
        loop.state.reads,
        loop.rep,
        agent_id=loop.world.agents["rep_a1"].id,
        since=early.date(),
        until=today,
        today=today,
    )
    responses = board.metrics.responses
    assert (responses.replies.successes, responses.replies.count) == (1, 4)
    assert responses.maturing_replies == 4 and responses.pending_replies == 0
    email = next(r for r in board.metrics.rates_by_action_type if r.action_type == "email")
    assert (email.resolved, email.maturing) == (4, 4)
    assert email.agent.rate == pytest.approx(0.25)
    days = {p.day: p for p in board.daily}
    assert not days[early.date()].provisional and days[early.date()].reply_outcomes == 4
    late_day = days[late.date()]
    assert late_day.provisional and late_day.reply_outcomes == 0 and late_day.replies == 0
    assert late_day.maturing_replies == 4
    assert all(p.provisional for p in board.daily if p.day > late.date() - 4 * DAY)
    assert not any(p.provisional for p in board.daily if p.day <= early.date())
