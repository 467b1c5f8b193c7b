"""Outcomes drive behaviour: a miscalibrated action type moves its policy (each threshold's dead
band on the matured outcomes; audited, with events), a calibrated one does not; a rollback by a
person holds (tests/backend/policy has the rest of freezing and rolling back)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from functools import partial

import numpy as np
import pytest
from sqlalchemy import select

from analytics_engine.policy import PolicyThresholds, follow_evidence
from backend.actions.service import ActionInput, record_action
from backend.calibration.models import CalibrationMonitorState, CalibrationVerdict
from backend.calibration.rollup import add_predictions
from backend.events.service import channel_for
from backend.learning import judge_action, refresh_calibration, submit_action, submit_signals
from backend.outcomes.service import open_windows, record_outcome
from backend.policy.models import AgentPolicy, PolicyChange
from backend.policy.service import evidence_through, policy_defaults, rollback_policy
from backend.pubsub import RedisBroker
from backend.signals.service import SignalInput
from backend.unit_of_work import transaction
from tests.backend.conftest import T0

NOW = T0 + dt.timedelta(days=40)  # every window of T0's actions has closed


LEVELS = {
    "escalation": ("escalation_quality", "very_positive", "very_negative"),
    "meeting": ("meeting_attendance", "positive", "negative"),
}


async def act_and_judge(
    session,
    loop,
    action_type: str,
    confidence: float,
    key: str,
    good: bool,
    *,
    taken: dt.datetime,
    decided: dt.datetime,
) -> None:
    """One action of rep_a1's agent taken at ``taken``, its outcome stated at ``decided``."""
    recorded = await record_action(
        session,
        loop.agent,
        ActionInput(
            action_type=action_type, confidence=confidence, idempotency_key=key, occurred_at=taken
        ),
        judge=partial(judge_action, session),
        now=taken,
    )
    await open_windows(session, recorded.action)
    outcome_type, yes, no = LEVELS[action_type]
    labelled = await record_outcome(
        session,
        loop.agent,
        action_id=recorded.action.id,
        outcome_type=outcome_type,
        level=yes if good else no,
        now=decided,
    )
    await add_predictions(session, labelled.resolutions.predictions)


async def feed(loop, action_type: str, confidence: float, successes: int, total: int) -> None:
    """Record ``total`` actions whose outcomes the agent states, ``successes`` of them good,
    spread evenly in the actions' order (the policies read outcomes as a sequence: a run of
    successes first would be evidence in itself)."""
    # One unit of work, as a batch would be: its outcomes re-assess the calibration once, after
    # commit (the `OutcomeResolved` handler), as of NOW.
    async with transaction(loop.state.sessions) as session:
        for i in range(total):
            good = (i * successes) % total < successes
            key = f"{action_type}-{i}"
            await act_and_judge(
                session, loop, action_type, confidence, key, good, taken=T0, decided=NOW
            )


async def policy_of(loop, action_type: str) -> tuple[AgentPolicy, list[PolicyChange]]:
    async with loop.state.sessions() as session:
        policy = await session.scalar(
            select(AgentPolicy).where(
                AgentPolicy.agent_id == loop.world.agents["rep_a1"].id,
                AgentPolicy.action_type == action_type,
            )
        )
        changes = list(
            await session.scalars(
                select(PolicyChange)
                .where(PolicyChange.policy_id == policy.id)
                .order_by(PolicyChange.version)
            )
        )
        return policy, changes


async def test_overconfident_type_moves_its_policy_with_audit_and_events(loop) -> None:
    org = loop.world.orgs["north"].id
    streams = {
        n: loop.state.broker.subscribe(channel_for(org, n))
        for n in ("calibration.changed", "policy.changed")
    }
    pending = {n: asyncio.ensure_future(anext(s)) for n, s in streams.items()}
    await asyncio.sleep(0.01)
    await feed(loop, "escalation", 0.85, successes=64, total=160)  # O/E = 0.47
    policy, changes = await policy_of(loop, "escalation")
    # The oracle: the engine's dead bands on the same outcomes, in the same order.
    y = [float((i * 64) % 160 < 64) for i in range(160)]
    target = policy_defaults("escalation", None).target
    expected = follow_evidence(PolicyThresholds(0.35, 0.75), None, [0.85] * 160, y, target)
    assert PolicyThresholds(policy.escalate_below, policy.autonomous_above) == expected.thresholds
    assert policy.autonomous_above > 0.85  # 0.85 now needs a review
    assert [c.version for c in changes] == [1, 2] and changes[1].changed_by == "system"
    assert "raising the autonomy threshold from 0.75 to" in changes[1].reason
    assert changes[1].evidence["rule"] == "dead_band"
    async with loop.state.sessions() as session:
        verdicts = {v.scope: v.verdict for v in await session.scalars(select(CalibrationVerdict))}
    assert verdicts == {"agent": "overconfident", "organization": "overconfident"}
    calibration_event = await asyncio.wait_for(pending["calibration.changed"], 5)
    policy_event = await asyncio.wait_for(pending["policy.changed"], 5)
    assert calibration_event["data"]["verdict"] == "overconfident"
    assert policy_event["data"]["autonomousAbove"] == pytest.approx(policy.autonomous_above)
    for stream in streams.values():
        await stream.aclose()
    # The agent now hears what its 0.8 is really worth; before, 0.8 acted alone, now reviewed.
    recorded = await submit_action(
        loop.state,
        loop.agent,
        ActionInput(
            action_type="escalation", confidence=0.8, idempotency_key="after", occurred_at=NOW
        ),
        now=NOW,
    )
    assert recorded.calibrated_confidence == pytest.approx(0.4, abs=0.06)
    assert recorded.decision.value == "review"


async def test_calibrated_type_leaves_its_policy_alone(loop) -> None:
    await feed(loop, "meeting", 0.4, successes=64, total=160)
    policy, changes = await policy_of(loop, "meeting")
    assert (policy.escalate_below, policy.autonomous_above) == (0.3, 0.6)  # the defaults
    assert [c.reason for c in changes] == ["initial policy (defaults)"]


async def test_frozen_policy_is_not_moved_and_rollback_restores(loop) -> None:
    await feed(loop, "escalation", 0.85, successes=64, total=160)
    agent_id = loop.world.agents["rep_a1"].id
    async with transaction(loop.state.sessions) as session:
        await rollback_policy(
            session,
            loop.manager,
            agent_id=agent_id,
            action_type="escalation",
            version=1,
            reason="too strict for the pilot",
        )
    policy, changes = await policy_of(loop, "escalation")
    assert (policy.autonomous_above, policy.frozen, policy.version) == (0.75, True, 3)
    assert changes[-1].changed_by_user_id == loop.world.users["manager_a"].id
    assert "rolled back to version 1" in changes[-1].reason
    # More evidence of overconfidence: automation respects the freeze.
    agent, org = loop.world.agents["rep_a1"].id, loop.world.orgs["north"].id
    await refresh_calibration(loop.state, [(org, agent, "escalation")], today=NOW.date())
    policy, _ = await policy_of(loop, "escalation")
    assert (policy.autonomous_above, policy.version) == (0.75, 3)


async def test_broker_down_never_fails_the_write(loop, caplog) -> None:
    await loop.state.broker.close()
    loop.state.broker = loop.state.bus.broker = RedisBroker("redis://127.0.0.1:1/0")
    action = await submit_action(
        loop.state,
        loop.agent,
        ActionInput(
            action_type="email",
            confidence=0.5,
            idempotency_key="b",
            occurred_at=T0,
            message_external_id="<b@m>",
        ),
        now=T0,
    )
    with caplog.at_level(logging.WARNING, logger="backend.events.service"):
        result = await submit_signals(
            loop.state,
            loop.agent,
            [
                SignalInput(
                    kind="email.replied",
                    source="esp",
                    external_id="x",
                    occurred_at=T0,
                    message_external_id="<b@m>",
                )
            ],
            now=NOW,
        )
    assert result.needs_label == 1 and action.created
    assert "event undelivered: outcome.needs_label" in caplog.text


async def run_days(loop, success_offset: float, days: int = 24, per_day: int = 25) -> None:
    """``days`` days of escalations stated between 0.25 and 0.45 (around the escalation
    threshold 0.35), each succeeding with probability ``confidence + success_offset``, their
    outcomes stated 31 days later, when the day has matured: each day is its own unit of work,
    re-assessed after commit (the `OutcomeResolved` handler) as of that later day."""
    rng = np.random.default_rng(20261207)
    for day in range(days):
        taken = T0 + dt.timedelta(days=day)
        decided = taken + dt.timedelta(days=31, hours=1)
        async with transaction(loop.state.sessions) as session:
            for i in range(per_day):
                confidence = float(rng.uniform(0.25, 0.45))
                good = bool(rng.random() < confidence + success_offset)
                await act_and_judge(
                    session,
                    loop,
                    "escalation",
                    confidence,
                    f"d{day}-{i}",
                    good,
                    taken=taken,
                    decided=decided,
                )


async def test_an_agent_at_its_escalation_target_never_flaps(loop) -> None:
    # Issue #18's black-box run: an overconfident agent (success = confidence - 0.08, O/E about
    # 0.77, judged overconfident) whose success rate at the escalation threshold (27 %) sits in
    # the dead band around its 30 % target. Re-assessed after each of 24 days, the verdict rule
    # moved escalateBelow back and forth; the dead band keeps it still.
    await run_days(loop, -0.08)
    async with loop.state.sessions() as session:
        verdict = await session.scalar(
            select(CalibrationVerdict.verdict)
            .where(CalibrationVerdict.scope == "agent")
            .order_by(CalibrationVerdict.id.desc())
            .limit(1)
        )
        fed = await evidence_through(
            session, agent_ids=[loop.world.agents["rep_a1"].id], action_type="escalation"
        )
        watched = await session.scalar(
            select(CalibrationMonitorState).where(
                CalibrationMonitorState.scope_key == f"agent:{loop.world.agents['rep_a1'].id}",
                CalibrationMonitorState.action_type == "escalation",
            )
        )
    # steadily overconfident is not a change: its detector watched its fitted map, never fired
    assert watched is not None and watched.drift["detector"]["n"] > 0 and watched.changes == 0
    assert verdict == "overconfident"
    assert fed == {loop.world.agents["rep_a1"].id: (T0 + dt.timedelta(days=23)).date()}
    policy, changes = await policy_of(loop, "escalation")
    assert [c.reason for c in changes] == ["initial policy (defaults)"]
    assert (policy.escalate_below, policy.version) == (0.35, 1)


async def test_an_agent_far_below_its_escalation_target_escalates_more(loop) -> None:
    # The same run, half as long, with success = confidence - 0.25 (10 % at the threshold):
    # the escalation threshold rises, only ever up.
    await run_days(loop, -0.25, days=12)
    policy, changes = await policy_of(loop, "escalation")
    assert policy.escalate_below > 0.35
    steps = [m for c in changes[1:] for m in c.evidence["escalation"]]
    assert steps and {m["direction"] for m in steps} == {"raise"}


async def test_two_processes_refreshing_at_once_feed_each_outcome_once(loop) -> None:
    # Outcomes decided within an hour (their days not matured yet: nothing is fed), then two
    # refreshes at once, 40 days on: each outcome reaches the monitors and the policy once,
    # whichever refresh fed them (a refresh that collides on a version or a unique key looks
    # again and finds nothing left; this run does not force that interleaving).
    async with transaction(loop.state.sessions) as session:
        for i in range(160):
            good = (i * 64) % 160 < 64
            await act_and_judge(
                session,
                loop,
                "escalation",
                0.85,
                f"c{i}",
                good,
                taken=T0,
                decided=T0 + dt.timedelta(hours=1),
            )
    org, agent = loop.world.orgs["north"].id, loop.world.agents["rep_a1"].id
    scopes = [(org, agent, "escalation")]
    await asyncio.gather(
        *(refresh_calibration(loop.state, scopes, today=NOW.date(), now=NOW) for _ in range(2))
    )
    async with loop.state.sessions() as session:
        monitors = {
            m.scope_key: m.state["n"]
            for m in await session.scalars(
                select(CalibrationMonitorState).where(
                    CalibrationMonitorState.action_type == "escalation"
                )
            )
        }
    assert monitors == {f"agent:{agent}": 160.0, "organization": 160.0}
    policy, changes = await policy_of(loop, "escalation")
    y = [float((i * 64) % 160 < 64) for i in range(160)]
    target = policy_defaults("escalation", None).target
    once = follow_evidence(PolicyThresholds(0.35, 0.75), None, [0.85] * 160, y, target)
    assert PolicyThresholds(policy.escalate_below, policy.autonomous_above) == once.thresholds
    assert len(changes) == 2  # the defaults, then one move: not two
