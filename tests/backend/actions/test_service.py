"""Recording actions: idempotent, validated, answered with calibrated confidence and decision."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from backend.actions.models import AgentAction, Decision
from backend.actions.service import ActionInput
from backend.errors import DomainError, InvalidInput, NotFoundError
from backend.learning import submit_action
from backend.outcomes.models import Outcome
from tests.backend.conftest import T0


def email(key: str, confidence: float = 0.5, **extra) -> ActionInput:
    return ActionInput(
        action_type="email",
        confidence=confidence,
        idempotency_key=key,
        occurred_at=T0,
        message_external_id=f"<{key}@mail>",
        thread_external_id=f"thread-{key}",
        **extra,
    )


@pytest.mark.parametrize(
    ("confidence", "decision"),
    [(0.3, Decision.ACT), (0.03, Decision.REVIEW), (0.01, Decision.ESCALATE)],
)
async def test_answer_carries_calibrated_confidence_and_decision(loop, confidence, decision):
    recorded = await submit_action(loop.state, loop.agent, email("a1", confidence), now=T0)
    assert recorded.created
    assert recorded.calibrated_confidence == pytest.approx(confidence)  # identity: no data yet
    assert recorded.decision is decision
    # An email's success is a reply (a ~10 % event): its default thresholds are low.
    assert (recorded.policy.escalate_below, recorded.policy.autonomous_above) == (0.02, 0.05)
    windows = {o.outcome_type: (o.window, o.due_at - T0) for o in recorded.outcomes}
    assert windows == {
        "email_delivery": ("immediate_24h", dt.timedelta(hours=24)),
        "email_reply": ("engagement_7d", dt.timedelta(days=7)),
    }


async def test_retry_returns_the_first_record(loop) -> None:
    first = await submit_action(loop.state, loop.agent, email("same", 0.6), now=T0)
    again = await submit_action(loop.state, loop.agent, email("same", 0.9), now=T0)
    assert not again.created and again.action.id == first.action.id
    assert again.action.confidence == 0.6
    async with loop.state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AgentAction)) == 1
        assert await session.scalar(select(func.count()).select_from(Outcome)) == 2


async def test_critical_by_type_and_links(loop) -> None:
    recorded = await submit_action(
        loop.state,
        loop.agent,
        ActionInput(
            action_type="escalation",
            confidence=0.7,
            idempotency_key="e1",
            occurred_at=T0,
            deal_external_id="D-1",
        ),
        now=T0,
    )
    assert recorded.action.is_critical and recorded.action.deal_id is not None
    assert [o.outcome_type for o in recorded.outcomes] == ["escalation_quality"]


async def test_bad_input_names_every_field_and_changes_nothing(loop) -> None:
    bad = ActionInput(
        action_type="Email!",
        confidence=1.5,
        idempotency_key="",
        occurred_at=T0 + dt.timedelta(days=2),
        cost_amount=-1,
        cost_currency="usd",
        cost_tokens=-3,
    )
    with pytest.raises(InvalidInput) as raised:
        await submit_action(loop.state, loop.agent, bad, now=T0)
    fields = {e.field for e in raised.value.errors}
    assert fields == {
        "actionType",
        "confidence",
        "idempotencyKey",
        "occurredAt",
        "cost.amount",
        "cost.currency",
        "cost.tokens",
    }
    async with loop.state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AgentAction)) == 0


async def test_an_agent_key_records_only_for_its_agent(loop) -> None:
    other = loop.world.agents["rep_a2"].id
    with pytest.raises(NotFoundError):
        await submit_action(loop.state, loop.agent, email("x", agent_id=other), now=T0)
    with pytest.raises(DomainError):
        await submit_action(loop.state, loop.rep, email("y"), now=T0)
