"""Policies: created once with the defaults, moved by the evidence of outcomes (each threshold's
dead band; audited, with its event after commit) unless frozen, the evidence kept between
batches, and pinned or rolled back only by the people who manage the agent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_engine.policy import PolicyEvidence, PolicyThresholds, follow_evidence
from backend.actions.models import Decision
from backend.auth.service import viewer_for_user
from backend.errors import DomainError, ErrorCode, NotFoundError, PermissionDeniedError
from backend.policy.models import AgentPolicy, PolicyChange, ThresholdEvidence
from backend.policy.service import (
    decide,
    evidence_through,
    follow_outcomes,
    freeze_policy,
    get_or_create_policy,
    policy_defaults,
    rollback_policy,
)
from backend.unit_of_work import bind_events, transaction
from backend.viewer import Viewer, ViewerRole
from tests.factories import NOW, World, build_world

# Escalations stated at the autonomy threshold (0.75) of which 40 % succeed: far below the
# dead band around its 70 % target (65-75 %), so the autonomy threshold must rise.
POOR = ([0.75] * 200, [1.0, 0.0, 0.0, 1.0, 0.0] * 40)
# Graded outcomes worth 0.7 each, at 0.75: inside the band, so nothing can move (a guarantee).
GOOD = ([0.75] * 200, [0.7] * 200)
THROUGH = NOW.date() - dt.timedelta(days=13)  # a matured day, on the suite's fixed clock


class Recorder:
    """An event bus that keeps what the unit of work hands it after commit."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    async def dispatch(self, events: Sequence[Any]) -> None:
        self.events.extend(events)


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    async with transaction(sessions) as session:
        return await build_world(session, actions_per_agent=0)


async def follow(
    session: AsyncSession, world: World, outcomes: tuple[list[float], list[float]]
) -> Any:
    agent = world.agents["rep_a1"]
    return await follow_outcomes(
        session,
        organization_id=agent.organization_id,
        agent_id=agent.id,
        action_type="escalation",
        p=outcomes[0],
        y=outcomes[1],
        through=THROUGH,
        config=None,
        now=NOW,
    )


async def history(session: AsyncSession, world: World) -> tuple[AgentPolicy, list[PolicyChange]]:
    await session.flush()  # the sessions do not autoflush: show the changes added so far
    policy = await session.scalar(
        select(AgentPolicy).where(
            AgentPolicy.agent_id == world.agents["rep_a1"].id,
            AgentPolicy.action_type == "escalation",
        )
    )
    assert policy is not None
    changes = await session.scalars(
        select(PolicyChange)
        .where(PolicyChange.policy_id == policy.id)
        .order_by(PolicyChange.version)
    )
    return policy, list(changes)


def test_decisions_and_defaults() -> None:
    thresholds = PolicyThresholds(0.3, 0.6)
    assert [decide(thresholds, c) for c in (0.29, 0.3, 0.59, 0.6)] == [
        Decision.ESCALATE,
        Decision.REVIEW,
        Decision.REVIEW,
        Decision.ACT,
    ]
    assert policy_defaults("email", None).thresholds == PolicyThresholds(0.02, 0.05)
    assert policy_defaults("unknown_type", None).thresholds == PolicyThresholds(0.35, 0.75)
    config = {"policy": {"email": {"escalate_below": 0.01, "target": {"step": 0.005}}}}
    overridden = policy_defaults("email", config)
    assert overridden.thresholds == PolicyThresholds(0.01, 0.05)
    assert overridden.target.step == 0.005
    with pytest.raises(DomainError) as raised:
        policy_defaults("email", {"policy": {"email": {"target": {"step": 2.0}}}})
    assert raised.value.field == "config.policy" and "policy.email" in raised.value.message


async def test_a_policy_is_created_once_with_the_defaults(sessions, world) -> None:
    agent = world.agents["rep_a1"]
    async with transaction(sessions) as session:
        first, again = [
            await get_or_create_policy(
                session,
                organization_id=agent.organization_id,
                agent_id=agent.id,
                action_type="escalation",
            )
            for _ in range(2)
        ]
        assert first.id == again.id and (first.escalate_below, first.autonomous_above) == (
            0.35,
            0.75,
        )
        _, changes = await history(session, world)
    assert [(c.version, c.reason, c.changed_by) for c in changes] == [
        (1, "initial policy (defaults)", "system")
    ]


async def test_evidence_moves_the_policy_with_audit_and_event(sessions, world) -> None:
    recorder = Recorder()
    bind_events(sessions, recorder)
    async with transaction(sessions) as session:
        change = await follow(session, world, POOR)
    assert change is not None
    # The oracle: the engine on the same outcomes, from the defaults (0.35, 0.75).
    expected = follow_evidence(
        PolicyThresholds(0.35, 0.75), None, *POOR, policy_defaults("escalation", None).target
    )
    assert expected.changed and expected.escalation == ()
    async with sessions() as session:
        policy, changes = await history(session, world)
        stored = await session.scalar(select(ThresholdEvidence))
        assert await evidence_through(
            session, agent_ids=[world.agents["rep_a1"].id], action_type="escalation"
        ) == {world.agents["rep_a1"].id: THROUGH}
    assert stored is not None and PolicyEvidence.from_dict(stored.state) == expected.evidence
    assert PolicyThresholds(policy.escalate_below, policy.autonomous_above) == expected.thresholds
    assert [c.version for c in changes] == [1, 2] and changes[1].changed_by == "system"
    agent_id = world.agents["rep_a1"].id
    first = expected.autonomy[0]
    assert changes[1].reason.startswith(
        f"Escalation actions of agent {agent_id}: raising the autonomy threshold from 0.75 to "
        f"{policy.autonomous_above:.2f}"
    )
    assert (
        f"near 0.75 the success rate ran below the band 65%–75% (e-value "
        f"{first.e_value:,.0f} ≥ 100 on {first.seen:,} outcomes)" in changes[1].reason
    )
    evidence = changes[1].evidence
    assert (evidence["rule"], evidence["alpha"], evidence["escalation"]) == ("dead_band", 0.01, [])
    assert evidence["autonomy"][0] == {
        "direction": "raise",
        "before": 0.75,
        "after": 0.8,
        "eValue": pytest.approx(first.e_value, abs=1e-3),
        "outcomes": first.seen,
        "reversal": False,
    }
    (event,) = [e for e in recorder.events if e.name == "policy.changed"]
    assert event.data["autonomousAbove"] == pytest.approx(policy.autonomous_above)
    assert event.data["policyVersion"] == 2 and event.data["changedBy"] == "system"


async def test_evidence_is_kept_between_batches(sessions, world) -> None:
    # Fed in three batches, the policy ends where one batch takes it: the bettors' state
    # survives the database, and gathering evidence makes no policy version.
    p, y = POOR
    async with transaction(sessions) as session:
        for cut in ((0, 25), (25, 26), (26, 200)):
            await follow(session, world, (p[slice(*cut)], y[slice(*cut)]))
            if cut == (0, 25):
                policy, _ = await history(session, world)
                assert policy.version == 1
        policy, _ = await history(session, world)
    whole = follow_evidence(
        PolicyThresholds(0.35, 0.75), None, p, y, policy_defaults("escalation", None).target
    )
    assert PolicyThresholds(policy.escalate_below, policy.autonomous_above) == whole.thresholds


async def test_good_or_frozen_policies_stay(sessions, world) -> None:
    async with transaction(sessions) as session:
        assert await follow(session, world, GOOD) is None
        policy, _ = await history(session, world)
        assert policy.version == 1
        manager = await viewer_for_user(session, world.users["manager_a"])
        await freeze_policy(
            session,
            manager,
            agent_id=world.agents["rep_a1"].id,
            action_type="escalation",
            frozen=True,
            reason="pilot",
        )
        assert await follow(session, world, POOR) is None
        policy, changes = await history(session, world)
        stored = await session.scalar(select(ThresholdEvidence))
    assert (policy.autonomous_above, policy.frozen, policy.version) == (0.75, True, 2)
    assert changes[-1].reason == "frozen by a person: pilot"
    assert stored is not None  # nothing gathered while a person holds it
    assert PolicyEvidence.from_dict(stored.state) == PolicyEvidence.start(
        PolicyThresholds(0.35, 0.75)
    )


async def test_rollback_restores_an_earlier_version_and_freezes_it(sessions, world) -> None:
    agent_id = world.agents["rep_a1"].id
    async with transaction(sessions) as session:
        await follow(session, world, POOR)
        manager = await viewer_for_user(session, world.users["manager_a"])
        with pytest.raises(NotFoundError):
            await rollback_policy(
                session, manager, agent_id=agent_id, action_type="escalation", version=9, reason=""
            )
        await rollback_policy(
            session,
            manager,
            agent_id=agent_id,
            action_type="escalation",
            version=1,
            reason=" too strict for the pilot ",
        )
        policy, changes = await history(session, world)
    assert (policy.autonomous_above, policy.frozen, policy.version) == (0.75, True, 3)
    assert changes[-1].reason == "rolled back to version 1 by a person: too strict for the pilot"
    assert changes[-1].changed_by == "user"
    assert changes[-1].changed_by_user_id == world.users["manager_a"].id
    assert changes[-1].previous_autonomous_above == changes[-2].autonomous_above > 0.75
    assert changes[-1].evidence == {}


async def test_people_outside_scope_cannot_touch_a_policy(sessions, world) -> None:
    mine = world.agents["rep_a1"].id
    beta_manager = Viewer(
        world.orgs["north"].id,
        ViewerRole.MANAGER,
        user_id=world.users["exec_n"].id,
        team_ids=frozenset({world.teams["beta"].id}),
        agent_ids=frozenset({world.agents["rep_b1"].id}),
    )
    async with transaction(sessions) as session:
        await get_or_create_policy(
            session,
            organization_id=world.orgs["north"].id,
            agent_id=mine,
            action_type="meeting",
        )
        rep = await viewer_for_user(session, world.users["rep_a1"])
        manager = await viewer_for_user(session, world.users["manager_a"])
        with pytest.raises(PermissionDeniedError):  # a rep does not set policy
            await freeze_policy(
                session, rep, agent_id=mine, action_type="meeting", frozen=True, reason="x"
            )
        with pytest.raises(NotFoundError):  # another team's manager sees no such policy
            await freeze_policy(
                session, beta_manager, agent_id=mine, action_type="meeting", frozen=True, reason="x"
            )
        with pytest.raises(DomainError) as missing:  # a person says why
            await freeze_policy(
                session, manager, agent_id=mine, action_type="meeting", frozen=True, reason=" "
            )
        assert (missing.value.code, missing.value.field) == (ErrorCode.REQUIRED, "reason")
        policy = await freeze_policy(
            session, manager, agent_id=mine, action_type="meeting", frozen=True, reason="pilot"
        )
        assert policy.frozen and policy.version == 2
        again = await freeze_policy(
            session, manager, agent_id=mine, action_type="meeting", frozen=True, reason="pilot"
        )
        assert again.version == 2  # already frozen: nothing to record
