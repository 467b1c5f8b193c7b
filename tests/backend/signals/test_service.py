"""Signals: stored once, matched to actions, resolved, labelled or noted by the rules."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from backend.actions.service import ActionInput
from backend.calibration.models import CalibrationStat
from backend.errors import InvalidInput
from backend.events.service import channel_for
from backend.learning import submit_action, submit_signals
from backend.outcomes.models import Outcome
from backend.signals.models import DealActivity, Signal
from backend.signals.payloads import PAYLOADS, payload_problems
from backend.signals.service import SignalInput
from tests.backend.conftest import T0

HOUR = dt.timedelta(hours=1)


async def send_email(loop, key: str, confidence: float = 0.4) -> int:
    recorded = await submit_action(
        loop.state,
        loop.agent,
        ActionInput(
            action_type="email",
            confidence=confidence,
            idempotency_key=key,
            occurred_at=T0,
            message_external_id=f"<{key}@mail>",
            thread_external_id=f"thread-{key}",
        ),
        now=T0,
    )
    return recorded.action.id


def signal(kind: str, external_id: str, *, at: dt.timedelta = HOUR, **refs) -> SignalInput:
    payload = refs.pop("payload", {})
    return SignalInput(
        kind=kind,
        source="esp",
        external_id=external_id,
        occurred_at=T0 + at,
        payload=payload,
        **refs,
    )


async def outcomes_of(loop, action_id: int) -> dict[str, Outcome]:
    async with loop.state.sessions() as session:
        rows = await session.scalars(select(Outcome).where(Outcome.action_id == action_id))
        return {o.outcome_type: o for o in rows}


async def rollup_totals(loop) -> tuple[int, float]:
    async with loop.state.sessions() as session:
        row = (
            await session.execute(
                select(
                    func.coalesce(func.sum(CalibrationStat.count), 0),
                    func.coalesce(func.sum(CalibrationStat.sum_y), 0.0),
                )
            )
        ).one()
        return int(row[0]), float(row[1])


async def test_reply_resolves_reply_and_delivery_and_counts_once(loop) -> None:
    action_id = await send_email(loop, "m1")
    batch = [
        signal(
            "email.replied",
            "r1",
            message_external_id="<m1@mail>",
            payload={"sentiment": "positive"},
        )
    ]
    first = await submit_signals(loop.state, loop.agent, batch, now=T0 + 2 * HOUR)
    assert (first.stored, first.matched, first.resolved) == (1, 1, 2)
    again = await submit_signals(loop.state, loop.agent, batch, now=T0 + 2 * HOUR)
    assert (again.stored, again.duplicates, again.resolved) == (0, 1, 0)
    outcomes = await outcomes_of(loop, action_id)
    reply = outcomes["email_reply"]
    assert (reply.status, reply.level, reply.value, reply.detection) == (
        "resolved",
        1,
        1.0,
        "automatic",
    )
    assert reply.resolved_at == T0 + HOUR
    assert outcomes["email_delivery"].value == 1.0
    assert await rollup_totals(loop) == (1, 1.0)  # only the calibrating outcome counts


async def test_thread_reply_matches_the_latest_email_in_the_thread(loop) -> None:
    await send_email(loop, "t1")
    result = await submit_signals(
        loop.state,
        loop.agent,
        [
            signal(
                "email.replied",
                "r2",
                thread_external_id="thread-t1",
                payload={"sentiment": "negative"},
            )
        ],
        now=T0 + 2 * HOUR,
    )
    assert result.resolved == 2
    assert await rollup_totals(loop) == (1, 0.0)


async def test_opens_and_clicks_are_weak_evidence(loop) -> None:
    action_id = await send_email(loop, "o1")
    batch = [
        signal("email.opened", f"open-{i}", message_external_id="<o1@mail>") for i in range(3)
    ] + [signal("email.clicked", "c1", message_external_id="<o1@mail>")]
    result = await submit_signals(loop.state, loop.agent, batch, now=T0 + 2 * HOUR)
    assert (result.matched, result.resolved) == (4, 0)
    reply = (await outcomes_of(loop, action_id))["email_reply"]
    assert reply.status == "open" and reply.evidence == {"opens": 3, "clicks": 1}


async def test_unknown_sentiment_goes_to_labelling_and_is_announced(loop) -> None:
    action_id = await send_email(loop, "u1")
    channel = channel_for(loop.world.orgs["north"].id, "outcome.needs_label")
    stream = loop.state.broker.subscribe(channel)
    received = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)
    result = await submit_signals(
        loop.state,
        loop.agent,
        [signal("email.replied", "u", message_external_id="<u1@mail>")],
        now=T0 + 2 * HOUR,
    )
    assert result.needs_label == 1
    event = await asyncio.wait_for(received, 5)
    reply = (await outcomes_of(loop, action_id))["email_reply"]
    assert (reply.status, reply.detection) == ("needs_label", "pending_label")
    assert "sentiment" in reply.label_reason
    assert event["name"] == "outcome.needs_label" and event["data"]["outcomeId"] == reply.id
    assert event["version"] >= 1
    await stream.aclose()


async def test_unmatched_signals_are_stored_and_reported(loop) -> None:
    result = await submit_signals(
        loop.state,
        loop.agent,
        [signal("email.replied", "lost", message_external_id="<nobody@mail>")],
        now=T0 + 2 * HOUR,
    )
    assert result.unmatched == [("esp", "lost")] and result.stored == 1
    async with loop.state.sessions() as session:
        stored = await session.scalar(select(Signal))
        assert stored is not None and not stored.matched


async def test_another_agents_key_cannot_resolve_my_outcomes(loop) -> None:
    action_id = await send_email(loop, "mine")
    result = await submit_signals(
        loop.state,
        loop.other_agent,
        [signal("email.bounced", "b1", message_external_id="<mine@mail>")],
        now=T0 + 2 * HOUR,
    )
    assert result.unmatched == [("esp", "b1")]
    assert (await outcomes_of(loop, action_id))["email_reply"].status == "open"


async def stage_action(loop, key: str) -> int:
    recorded = await submit_action(
        loop.state,
        loop.agent,
        ActionInput(
            action_type="stage_progression",
            confidence=0.6,
            idempotency_key=key,
            occurred_at=T0,
            deal_external_id=f"deal-{key}",
        ),
        now=T0,
    )
    return recorded.action.id


def stage(external_id: str, deal: str, from_stage: str, to_stage: str, hours: int) -> SignalInput:
    return SignalInput(
        kind="deal.stage_changed",
        source="crm",
        external_id=external_id,
        occurred_at=T0 + hours * HOUR,
        deal_external_id=deal,
        payload={"from_stage": from_stage, "to_stage": to_stage},
    )


async def test_forward_stage_change_resolves_by_distance(loop) -> None:
    action_id = await stage_action(loop, "s1")
    await submit_signals(
        loop.state,
        loop.agent,
        [stage("x1", "deal-s1", "prospecting", "discovery", 5)],
        now=T0 + 6 * HOUR,
    )
    progression = (await outcomes_of(loop, action_id))["deal_progression"]
    assert (progression.status, progression.level, progression.value) == ("resolved", 2, 0.5)


async def test_backward_then_forward_is_ambiguous(loop) -> None:
    action_id = await stage_action(loop, "s2")
    await submit_signals(
        loop.state,
        loop.agent,
        [
            stage("y1", "deal-s2", "discovery", "qualified", 5),
            stage("y2", "deal-s2", "qualified", "proposal", 9),
        ],
        now=T0 + 10 * HOUR,
    )
    progression = (await outcomes_of(loop, action_id))["deal_progression"]
    assert progression.status == "needs_label"
    assert progression.evidence == {"backward_moves": 1}


async def test_meeting_feedback_is_born_with_its_event(loop) -> None:
    recorded = await submit_action(
        loop.state,
        loop.agent,
        ActionInput(
            action_type="meeting",
            confidence=0.5,
            idempotency_key="mt",
            occurred_at=T0,
            thread_external_id="thread-mt",
        ),
        now=T0,
    )
    await submit_signals(
        loop.state,
        loop.agent,
        [
            signal("meeting.attended", "ma", thread_external_id="thread-mt"),
            signal(
                "meeting.feedback",
                "mf",
                thread_external_id="thread-mt",
                payload={"rating": "positive"},
            ),
        ],
        now=T0 + 2 * HOUR,
    )
    outcomes = await outcomes_of(loop, recorded.action.id)
    assert outcomes["meeting_attendance"].value == 1.0
    assert outcomes["meeting_feedback"].value == 1.0 and outcomes["meeting_feedback"].level == 2


async def test_bad_batch_names_the_signal_and_field_and_stores_nothing(loop) -> None:
    batch = [
        signal("email.replied", "ok"),
        signal("email.teleported", ""),
        SignalInput(
            kind="deal.won", source="CRM!", external_id="z", occurred_at=dt.datetime(2026, 1, 1)
        ),
    ]
    with pytest.raises(InvalidInput) as raised:
        await submit_signals(loop.state, loop.agent, batch, now=T0 + 2 * HOUR)
    fields = {e.field for e in raised.value.errors}
    assert fields == {
        "signals[1].kind",
        "signals[1].externalId",
        "signals[2].source",
        "signals[2].occurredAt",
    }
    async with loop.state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Signal)) == 0


async def test_a_payload_with_keys_its_kind_does_not_know_is_refused(loop) -> None:
    """`{from, to}` for a stage change (instead of `{from_stage, to_stage}`) is refused with the
    expected keys named, as is an unknown key of any kind or a value of the wrong type; the
    batch changes nothing."""
    await send_email(loop, "p1")
    batch = [
        signal(
            "deal.stage_changed",
            "s1",
            deal_external_id="deal-p",
            payload={"from": "prospecting", "to": "discovery"},
        ),
        signal("email.opened", "o1", message_external_id="<p1@mail>", payload={"agent": "x"}),
        signal(
            "meeting.scheduled",
            "m1",
            thread_external_id="thread-p1",
            payload={"rescheduled": "yes"},
        ),
        signal("email.replied", "r1", message_external_id="<p1@mail>", payload={"sentiment": 1}),
    ]
    with pytest.raises(InvalidInput) as refused:
        await submit_signals(loop.state, loop.agent, batch, now=T0 + 2 * HOUR)
    found = {e.field: e.message for e in refused.value.errors}
    expected = "its keys: from_stage, to_stage (required)"
    assert found["signals[0].payload.from"].endswith(expected)
    assert found["signals[0].payload.to"].endswith(expected)
    assert found["signals[0].payload.to_stage"] == f"is required for deal.stage_changed; {expected}"
    assert found["signals[1].payload.agent"] == (
        "is not a key of email.opened; its keys: user_agent"
    )
    assert found["signals[2].payload.rescheduled"] == "must be true or false"
    assert found["signals[3].payload.sentiment"] == "must be a string"
    assert len(found) == 6
    async with loop.state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Signal)) == 0


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        (kind, {key: (True if kind_type is bool else "x") for key, kind_type in spec.keys.items()})
        for kind, spec in PAYLOADS.items()
    ]
    + [(kind, {k: "x" for k in spec.required}) for kind, spec in PAYLOADS.items()],
)
def test_every_documented_payload_is_accepted(kind: str, payload: dict) -> None:
    assert payload_problems(kind, payload) == []


async def test_a_deal_move_credits_the_deals_only_action_even_an_email(loop) -> None:
    """An opportunity created on a deal whose only agent action is an e-mail matches that
    e-mail: the signal is the agent's, its deal impact counts the move, and the e-mail's own
    outcomes do not change."""
    recorded = await submit_action(
        loop.state,
        loop.agent,
        ActionInput(
            action_type="email",
            confidence=0.5,
            idempotency_key="deal-mail",
            occurred_at=T0,
            deal_external_id="deal-mail",
        ),
        now=T0,
    )
    email_id = recorded.action.id
    before = await outcomes_of(loop, email_id)
    created = SignalInput(
        kind="opportunity.created",
        source="crm",
        external_id="opp-1",
        occurred_at=T0 + 5 * HOUR,
        deal_external_id="deal-mail",
    )
    result = await submit_signals(loop.state, loop.agent, [created], now=T0 + 6 * HOUR)
    assert (result.matched, result.resolved, result.unmatched) == (1, 0, [])
    async with loop.state.sessions() as session:
        row = await session.scalar(select(Signal).where(Signal.external_id == "opp-1"))
        activity = (await session.execute(select(DealActivity))).scalars().all()
    assert row is not None and row.matched and row.agent_id == loop.world.agents["rep_a1"].id
    assert [(a.agent_id, a.progressed, a.won) for a in activity] == [(row.agent_id, 1, 0)]
    after = await outcomes_of(loop, email_id)
    assert {t: (o.status, o.value) for t, o in after.items()} == {
        t: (o.status, o.value) for t, o in before.items()
    }
