"""Constraints live in the database and surface as domain errors naming the field."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.actions.models import AgentAction
from backend.errors import DomainError, ErrorCode, flush
from backend.feedback.models import Feedback
from backend.outcomes.models import Outcome
from backend.policy.models import AgentPolicy
from backend.signals.models import Signal
from backend.unit_of_work import transaction
from tests.factories import NOW, build_world


def _action(world, key: str = "rep_a1", **overrides) -> AgentAction:
    agent = world.agents[key]
    fields = dict(
        organization_id=agent.organization_id,
        agent_id=agent.id,
        action_type="email",
        confidence=0.4,
        idempotency_key="new-key",
        occurred_at=NOW,
    )
    fields.update(overrides)
    return AgentAction(**fields)


async def _rejected(sessions: async_sessionmaker[AsyncSession], make) -> DomainError:
    """Run ``make`` inside a unit of work that must fail with a DomainError, and return it."""
    async with sessions() as session:
        world = await build_world(session)
        await session.commit()
    with pytest.raises(DomainError) as raised:
        async with transaction(sessions) as session:
            session.add(make(world))
            await flush(session)
    return raised.value


@pytest.mark.parametrize("confidence", [-0.01, 1.5])
async def test_confidence_outside_unit_interval(sessions, confidence: float) -> None:
    error = await _rejected(sessions, lambda w: _action(w, confidence=confidence))
    assert (error.code, error.field) == (ErrorCode.INVALID, "confidence")


async def test_duplicate_idempotency_key_per_agent(sessions) -> None:
    error = await _rejected(sessions, lambda w: _action(w, idempotency_key="rep_a1-0"))
    assert (error.code, error.field) == (ErrorCode.CONFLICT, "idempotency_key")


async def test_same_idempotency_key_on_another_agent_is_fine(sessions) -> None:
    async with transaction(sessions) as session:
        world = await build_world(session)
        session.add(_action(world, "rep_a2", idempotency_key="rep_a1-0"))
        await flush(session)


async def test_duplicate_signal_external_id_per_source(sessions) -> None:
    def make(world) -> Signal:
        org = world.orgs["north"].id
        return Signal(
            organization_id=org,
            kind="email.opened",
            source="esp",
            external_id="e1",
            occurred_at=NOW,
        )

    async with transaction(sessions) as session:
        world = await build_world(session)
        session.add(make(world))
    with pytest.raises(DomainError) as raised:
        async with transaction(sessions) as session:
            session.add(make(world))
            await flush(session)
    assert (raised.value.code, raised.value.field) == (ErrorCode.CONFLICT, "external_id")


@pytest.mark.parametrize(("target", "rating"), [("message", 2), ("action", 0), ("action", 6)])
async def test_feedback_rating_on_its_scale(sessions, target: str, rating: int) -> None:
    def make(world) -> Feedback:
        action = world.actions["rep_a1"][0]
        return Feedback(
            organization_id=action.organization_id,
            agent_id=action.agent_id,
            target_type=target,
            action_id=action.id if target == "action" else None,
            message_id=None,
            rating=rating,
            channel="api",
            author_id=world.users["rep_a1"].id,
        )

    error = await _rejected(sessions, make)
    assert error.field in ("rating", "target_type")


async def test_resolved_outcome_needs_a_value(sessions) -> None:
    def make(world) -> Outcome:
        action = world.actions["rep_a1"][0]
        return Outcome(
            organization_id=action.organization_id,
            agent_id=action.agent_id,
            action_id=action.id,
            action_type="email",
            outcome_type="email_reply",
            window="engagement_7d",
            scale="binary",
            status="resolved",
            value=None,
            resolved_at=NOW + dt.timedelta(days=1),
        )

    error = await _rejected(sessions, make)
    assert (error.code, error.field) == (ErrorCode.INVALID, "value")


async def test_policy_thresholds_are_ordered(sessions) -> None:
    def make(world) -> AgentPolicy:
        agent = world.agents["rep_a1"]
        return AgentPolicy(
            organization_id=agent.organization_id,
            agent_id=agent.id,
            action_type="email",
            escalate_below=0.8,
            autonomous_above=0.6,
        )

    error = await _rejected(sessions, make)
    assert (error.code, error.field) == (ErrorCode.INVALID, "autonomous_above")


async def test_rejected_unit_of_work_changes_nothing(sessions) -> None:
    async with sessions() as session:
        world = await build_world(session)
        await session.commit()
        before = await session.scalar(select(func.count()).select_from(AgentAction))
    with pytest.raises(DomainError):
        async with transaction(sessions) as session:
            session.add(_action(world, idempotency_key="fine"))
            await flush(session)
            session.add(_action(world, idempotency_key="bad", confidence=2.0))
            await flush(session)
    async with sessions() as session:
        after = await session.scalar(select(func.count()).select_from(AgentAction))
    assert after == before
