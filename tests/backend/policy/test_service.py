"""Policies: created once with the defaults, moved by calibration (audited, with its event after
commit) unless frozen, and pinned or rolled back only by the people who manage the agent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_engine.calibration import CalibrationStats
from analytics_engine.policy import PolicyThresholds
from analytics_engine.recalibration import fit_recalibration
from analytics_engine.verdict import assess
from backend.actions.models import Decision
from backend.auth.service import viewer_for_user
from backend.errors import DomainError, ErrorCode, NotFoundError, PermissionDeniedError
from backend.policy.models import AgentPolicy, PolicyChange
from backend.policy.service import (
    adjust_to_calibration,
    decide,
    freeze_policy,
    get_or_create_policy,
    policy_defaults,
    rollback_policy,
)
from backend.unit_of_work import bind_events, transaction
from backend.viewer import Viewer, ViewerRole
from tests.factories import World, build_world

# 160 escalations at confidence 0.85 of which 64 succeed: O/E 0.47, clearly overconfident.
OVERCONFIDENT = CalibrationStats.from_arrays([0.85] * 160, [1.0] * 64 + [0.0] * 96)
CALIBRATED = CalibrationStats.from_arrays([0.4] * 160, [1.0] * 64 + [0.0] * 96)


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


async def adjust(session: AsyncSession, world: World, stats: CalibrationStats) -> Any:
    agent = world.agents["rep_a1"]
    return await adjust_to_calibration(
        session,
        organization_id=agent.organization_id,
        agent_id=agent.id,
        action_type="escalation",
        stats=stats,
        verdict=assess(stats),
        recalibration=fit_recalibration(stats),
        config=None,
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
    config = {"policy": {"email": {"escalate_below": 0.01, "target": {"max_step": 0.01}}}}
    overridden = policy_defaults("email", config)
    assert overridden.thresholds == PolicyThresholds(0.01, 0.05)
    assert overridden.target.max_step == 0.01
    with pytest.raises(DomainError) as raised:
        policy_defaults("email", {"policy": {"email": {"target": {"max_step": 2.0}}}})
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


async def test_calibration_moves_the_policy_with_audit_and_event(sessions, world) -> None:
    recorder = Recorder()
    bind_events(sessions, recorder)
    async with transaction(sessions) as session:
        change = await adjust(session, world, OVERCONFIDENT)
    assert change is not None
    async with sessions() as session:
        policy, changes = await history(session, world)
    assert policy.autonomous_above == pytest.approx(0.85)  # one max step up from 0.75
    assert policy.recalibration == fit_recalibration(OVERCONFIDENT).to_dict()
    assert [c.version for c in changes] == [1, 2] and changes[1].changed_by == "system"
    agent_id = world.agents["rep_a1"].id
    assert changes[1].reason.startswith(
        f"Escalation actions of agent {agent_id} are overconfident (O/E 0.47, z="
    )
    assert "raising the autonomy threshold from 0.75 to 0.85" in changes[1].reason
    assert changes[1].evidence["kind"] == "overconfident"
    assert changes[1].evidence["observedExpected"] == pytest.approx(64 / (160 * 0.85), abs=1e-6)
    (event,) = [e for e in recorder.events if e.name == "policy.changed"]
    assert event.data["autonomousAbove"] == pytest.approx(0.85)
    assert event.data["policyVersion"] == 2 and event.data["changedBy"] == "system"


async def test_calibrated_or_frozen_policies_stay(sessions, world) -> None:
    async with transaction(sessions) as session:
        assert await adjust(session, world, CALIBRATED) is None
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
        assert await adjust(session, world, OVERCONFIDENT) is None
        policy, changes = await history(session, world)
    assert (policy.autonomous_above, policy.frozen, policy.version) == (0.75, True, 2)
    assert changes[-1].reason == "frozen by a person: pilot"


async def test_rollback_restores_an_earlier_version_and_freezes_it(sessions, world) -> None:
    agent_id = world.agents["rep_a1"].id
    async with transaction(sessions) as session:
        await adjust(session, world, OVERCONFIDENT)
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
    assert (changes[-1].previous_autonomous_above, changes[-1].evidence) == (
        pytest.approx(0.85),
        {},
    )


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
