"""The daily rollups the dashboards read, kept live by each domain in its own unit of work,
equal what ``rebuild_all`` sums from the rows themselves (the migration's backfill), whatever
path changed the rows: actions, outcomes opened, resolved, sent to labelling, labelled and
corrected, event-born outcomes, deal signals, ratings given, changed, prompted and withdrawn;
and the calibration rollup per team equals the one per agent summed by team."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from backend.actions.models import ActionStat
from backend.actions.service import ActionInput
from backend.calibration.models import CalibrationTeamStat
from backend.feedback.models import Feedback, FeedbackChannel, FeedbackStat, ReworkStat
from backend.feedback.service import FeedbackInput, mark_prompted, withdraw_feedback
from backend.learning import (
    close_expired_windows,
    submit_action,
    submit_label,
    submit_rating,
    submit_signals,
)
from backend.outcomes.models import Outcome, OutcomeStat, OutcomeStatus
from backend.rollups import rebuild_all
from backend.signals.models import DealActivity, EmailEngagement
from backend.signals.service import SignalInput
from backend.unit_of_work import transaction
from tests.backend.conftest import T0, Loop

ROLLUPS = (
    ActionStat,
    OutcomeStat,
    FeedbackStat,
    ReworkStat,
    DealActivity,
    EmailEngagement,
    CalibrationTeamStat,
)


async def _snapshot(loop: Loop) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    async with loop.state.sessions() as session:
        for model in ROLLUPS:
            columns = [c for c in model.__table__.columns]
            keys = [c for c in columns if c.primary_key]
            sums = [c for c in columns if not c.primary_key]
            rows = (await session.execute(select(*keys, *sums).order_by(*keys))).all()
            # A row whose sums all went back to 0 (a judgement changed or withdrawn) adds nothing
            # to any sum: the live rollup may keep it, the rebuilt one has none.
            out[model.__tablename__] = [
                tuple(round(float(v), 9) if isinstance(v, float | Decimal) else v for v in r)
                for r in rows
                if any(r[len(keys) :])
            ]
    return out


def _signal(kind: str, ref: str, when: dt.datetime, **kw: Any) -> SignalInput:
    return SignalInput(
        kind=kind, source="test", external_id=f"{kind}:{ref}", occurred_at=when, **kw
    )


async def _scenario(loop: Loop) -> None:
    state, agent = loop.state, loop.agent

    async def act(key: str, action_type: str, hours: float, **kw: Any) -> Any:
        data = ActionInput(
            action_type=action_type,
            confidence=0.7,
            idempotency_key=key,
            occurred_at=T0 + dt.timedelta(hours=hours),
            cost_amount="0.25",
            cost_tokens=40,
            **kw,
        )
        return (await submit_action(state, agent, data, now=T0 + dt.timedelta(hours=hours))).action

    emails = [await act(f"e{i}", "email", 20 * i, message_external_id=f"m{i}") for i in range(6)]
    await act("e0", "email", 0, message_external_id="m0")  # a retry counts once
    await act("x", "escalation", 3)
    await act("eur", "email", 5, cost_currency="EUR")
    meeting = await act("meet", "meeting", 30, thread_external_id="t1")
    await act("deal", "stage_progression", 40, deal_external_id="d1")
    later = T0 + dt.timedelta(days=3)
    engagement = [  # opens and clicks, by people and by software (a proxy, a scanner, too soon)
        _signal("email.opened", "m3a", later, message_external_id="m3"),
        _signal(
            "email.opened",
            "m3b",
            later,
            message_external_id="m3",
            payload={"user_agent": "Mozilla/5.0"},
        ),
        _signal(
            "email.clicked",
            "m3c",
            later,
            message_external_id="m3",
            payload={"url": "https://x.test", "user_agent": "Mimecast URL Protect"},
        ),
        _signal(
            "email.clicked",
            "m4",
            emails[4].occurred_at + dt.timedelta(seconds=2),
            message_external_id="m4",
        ),
        _signal("email.clicked", "m5", later, message_external_id="m5"),
    ]
    await submit_signals(
        state,
        agent,
        [
            _signal(
                "email.replied",
                "m0",
                later,
                message_external_id="m0",
                payload={"sentiment": "positive"},
            ),
            _signal("email.replied", "m1", later, message_external_id="m1"),  # to label
            _signal("email.bounced", "m2", later, message_external_id="m2"),
            _signal("meeting.attended", "t1", later, thread_external_id="t1"),
            _signal(
                "meeting.feedback",
                "t1",
                later,
                thread_external_id="t1",
                payload={"rating": "superb"},
            ),
            _signal(
                "deal.stage_changed",
                "d1",
                later,
                deal_external_id="d1",
                payload={"from_stage": "prospecting", "to_stage": "discovery"},
            ),
            _signal(
                "deal.stage_changed",
                "d1b",
                later,
                deal_external_id="d1",
                payload={"from_stage": "discovery", "to_stage": "prospecting"},
            ),
            _signal("deal.won", "d1", later + dt.timedelta(days=1), deal_external_id="d1"),
            *engagement,
        ],
        now=later + dt.timedelta(days=2),
    )
    # opens and clicks retried (stored before: counted once)
    await submit_signals(state, agent, engagement, now=later + dt.timedelta(days=2))
    async with state.sessions() as session:
        labelling = await session.scalar(
            select(Outcome.id).where(Outcome.status == OutcomeStatus.NEEDS_LABEL.value).limit(1)
        )
        resolved = await session.scalar(
            select(Outcome.id)
            .where(Outcome.action_id == emails[0].id, Outcome.status == "resolved")
            .limit(1)
        )
    assert labelling is not None and resolved is not None
    await submit_label(state, loop.rep, outcome_id=labelling, level=1, now=later)
    await submit_label(state, loop.rep, outcome_id=resolved, level=0, now=later)  # a correction
    await close_expired_windows(state, now=T0 + dt.timedelta(days=60))

    rate = [
        FeedbackInput(channel="dashboard", message_external_id="m3", thumb="up"),
        FeedbackInput(
            channel="slack", message_external_id="m4", thumb="down", external_id="slack:1"
        ),
        FeedbackInput(channel="dashboard", action_id=meeting.id, rating=2),
        FeedbackInput(channel="dashboard", action_id=meeting.id, rating=5, prompted=True),
        FeedbackInput(channel="dashboard", action_id=emails[5].id, rating=3),
        # work judged wrong, and left so: a thumbs down on m1, 1 of 5 on the escalation-free e2
        FeedbackInput(channel="dashboard", message_external_id="m1", thumb="down"),
        FeedbackInput(channel="dashboard", action_id=emails[2].id, rating=1),
    ]
    for data in rate:
        await submit_rating(state, loop.rep, data, now=later)
    async with transaction(state.sessions) as session:
        ids = list(
            await session.scalars(select(Feedback.id).where(Feedback.action_id == emails[5].id))
        )
        await mark_prompted(session, ids)
        await mark_prompted(session, ids)  # once only
        assert loop.rep.user_id is not None
        withdrawn = await withdraw_feedback(
            session,
            organization_id=loop.rep.organization_id,
            author_id=loop.rep.user_id,
            target=Feedback.message_id == emails[4].message_id,
            channel=FeedbackChannel.SLACK,
            external_id_prefix="slack:",
            rating=0,
        )
        assert withdrawn == 1


async def test_live_rollups_equal_the_rebuilt_ones(loop: Loop) -> None:
    await _scenario(loop)
    live = await _snapshot(loop)
    assert all(live.values()), {k: len(v) for k, v in live.items()}
    outcomes = live["outcome_stats"]
    assert sum(r[5] for r in outcomes) > 0 and sum(r[7] for r in outcomes) > 0  # both kinds
    # the meeting's 2 became a 5 and the thumbs down on m4 was withdrawn: only m1 and e2 count
    assert [(r[3], r[4]) for r in live["rework_stats"]] == [("email", 2)]
    async with transaction(loop.state.sessions) as session:
        for statement in rebuild_all(session.bind.dialect.name):
            await session.execute(statement)
    assert await _snapshot(loop) == live


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_every_rollup_has_a_rebuild(dialect: str) -> None:
    tables = {s.table.name for s in rebuild_all(dialect)}
    assert tables == {m.__tablename__ for m in ROLLUPS}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_concurrent_writers_lose_no_increment(loop: Loop) -> None:
    """Ten actions recorded at once, then one rep changing the same rating eight times at once
    (each change locks the rating before counting its difference)."""
    state = loop.state

    async def act(i: int) -> Any:
        data = ActionInput(
            action_type="meeting",
            confidence=0.6,
            idempotency_key=f"c{i}",
            occurred_at=T0,
            cost_amount="1",
            cost_tokens=1,
        )
        return (await submit_action(state, loop.agent, data, now=T0)).action

    actions = await asyncio.gather(*(act(i) for i in range(10)))
    target = actions[0].id
    await asyncio.gather(
        *(
            submit_rating(
                state,
                loop.rep,
                FeedbackInput(channel="dashboard", action_id=target, rating=1 + i % 5),
                now=T0,
            )
            for i in range(8)
        )
    )
    live = await _snapshot(loop)
    assert [r[5] for r in live["action_stats"]] == [10]
    assert [(r[4], r[5]) for r in live["feedback_stats"]] == [(1, live["feedback_stats"][0][5])]
    async with transaction(state.sessions) as session:
        for statement in rebuild_all(session.bind.dialect.name):
            await session.execute(statement)
    assert await _snapshot(loop) == live
