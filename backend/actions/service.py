"""Use cases of actions: the Sales Agent records what it did, and learns at once what its
confidence is worth (calibrated) and what its policy says (act, review or escalate): the
caller's ``judge`` tells, since calibration and policy are other domains."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.events import ActionRecorded
from backend.actions.models import (
    ACTION_TYPE_PATTERN,
    EARLIEST,
    ActionType,
    AgentAction,
    Decision,
)
from backend.actions.rollup import add_action
from backend.agents.models import Agent
from backend.crm.links import resolve_links
from backend.database import dialect_insert, utcnow
from backend.errors import DomainError, ErrorCode, NotFoundError, Problems
from backend.unit_of_work import raise_event
from backend.viewer import Viewer, ViewerRole

MAX_COST = Decimal(1_000_000)  # per action; the column holds 6 digits before the point
MAX_DETAILS_BYTES = 16_384
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class ActionInput:
    action_type: str
    confidence: float
    idempotency_key: str
    occurred_at: dt.datetime | None = None
    is_critical: bool | None = None  # default: escalations and stage changes are critical
    cost_amount: Decimal | float | str = Decimal(0)
    cost_currency: str = "USD"
    cost_tokens: int = 0
    agent_id: int | None = None  # needed only when the caller is not the agent's own key
    deal_external_id: str | None = None
    thread_external_id: str | None = None
    message_external_id: str | None = None
    subject: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Judgement:
    """What an action's confidence is worth and what the policy in force says of it."""

    calibrated_confidence: float
    decision: Decision
    policy: Any  # the agent's policy for the action type, shown with the answer


# (organisation, agent, action type, raw confidence) -> the judgement
Judge = Callable[[int, int, str, float], Awaitable[Judgement]]


@dataclass(frozen=True)
class RecordedAction:
    action: AgentAction
    created: bool  # False when this was a retry of an earlier request
    calibrated_confidence: float
    decision: Decision
    policy: Any


def _validate(data: ActionInput, now: dt.datetime) -> tuple[Decimal, dt.datetime]:
    problems = Problems()
    problems.require(
        bool(ACTION_TYPE_PATTERN.match(data.action_type or "")),
        "actionType",
        "must be a lower_snake_case name of at most 40 characters, e.g. 'email'",
    )
    confidence_ok = isinstance(data.confidence, int | float) and math.isfinite(data.confidence)
    problems.require(
        confidence_ok and 0.0 <= float(data.confidence) <= 1.0,
        "confidence",
        f"must be a number in [0, 1], got {data.confidence!r}",
    )
    key = data.idempotency_key or ""
    problems.require(0 < len(key.strip()) <= 200, "idempotencyKey", "must be 1..200 characters")
    cost = Decimal(0)
    try:
        cost = Decimal(str(data.cost_amount))
        problems.require(
            cost.is_finite() and 0 <= cost < MAX_COST,
            "cost.amount",
            f"must be 0 or more and below {MAX_COST:,}",
        )
    except InvalidOperation:
        problems.add("cost.amount", f"is not a number: {data.cost_amount!r}")
    problems.require(
        bool(CURRENCY_PATTERN.match(data.cost_currency or "")),
        "cost.currency",
        "must be a 3-letter ISO 4217 code such as 'USD'",
    )
    problems.require(
        isinstance(data.cost_tokens, int) and data.cost_tokens >= 0,
        "cost.tokens",
        "must be a whole number, 0 or more",
    )
    occurred_at = data.occurred_at or now
    if problems.require(occurred_at.tzinfo is not None, "occurredAt", "must carry a time zone"):
        problems.require(
            EARLIEST <= occurred_at <= now + dt.timedelta(minutes=5),
            "occurredAt",
            f"must lie between {EARLIEST.date()} and now",
        )
    problems.require(
        data.subject is None or len(data.subject) <= 500,
        "subject",
        "must be at most 500 characters",
    )
    size = len(json.dumps(data.details, default=str)) if isinstance(data.details, dict) else -1
    problems.require(
        0 <= size <= MAX_DETAILS_BYTES,
        "details",
        f"must be an object of at most {MAX_DETAILS_BYTES} bytes",
    )
    for name, value in (
        ("dealExternalId", data.deal_external_id),
        ("threadExternalId", data.thread_external_id),
        ("messageExternalId", data.message_external_id),
    ):
        problems.require(value is None or 0 < len(value) <= 200, name, "must be 1..200 characters")
    problems.raise_if_any()
    return cost, occurred_at


async def _acting_agent(session: AsyncSession, viewer: Viewer, agent_id: int | None) -> Agent:
    """The agent an action is recorded for: an agent key records for its own agent only."""
    if viewer.role is ViewerRole.AGENT:
        own = next(iter(viewer.agent_ids or ()), None)
        if agent_id is not None and agent_id != own:
            raise NotFoundError("agent", field="agentId")
        agent_id = own
    elif viewer.role not in (ViewerRole.ADMIN,):
        raise DomainError(ErrorCode.FORBIDDEN, "only the agent's key records its actions")
    if agent_id is None:
        raise DomainError(ErrorCode.REQUIRED, "agentId is required", field="agentId")
    agent = await session.scalar(
        select(Agent).where(Agent.id == agent_id, Agent.organization_id == viewer.organization_id)
    )
    if agent is None or not viewer.can_see_agent(agent.id):
        raise NotFoundError("agent", field="agentId")
    return agent


async def record_action(
    session: AsyncSession,
    viewer: Viewer,
    data: ActionInput,
    *,
    judge: Judge,
    now: dt.datetime | None = None,
) -> RecordedAction:
    """Record an action with ``judge``'s calibrated confidence and decision, and raise
    ``ActionRecorded``. A retry with the same idempotency key returns the first record."""
    viewer.require_scope("write:actions")
    now = now or utcnow()
    cost, occurred_at = _validate(data, now)
    agent = await _acting_agent(session, viewer, data.agent_id)
    key = data.idempotency_key.strip()
    existing = await _by_key(session, agent.id, key)
    if existing is not None:
        return await _answer(existing, judge, created=False)
    links = await resolve_links(
        session,
        agent=agent,
        deal_external_id=data.deal_external_id,
        thread_external_id=data.thread_external_id,
        message_external_id=data.message_external_id,
        subject=data.subject,
        sent_at=occurred_at,
    )
    known = data.action_type in ActionType.__members__.values()
    critical = (
        data.is_critical
        if data.is_critical is not None
        else (known and ActionType(data.action_type).is_critical)
    )
    confidence = float(data.confidence)
    judgement = await judge(agent.organization_id, agent.id, data.action_type, confidence)
    insert = dialect_insert(session, AgentAction)
    inserted = await session.execute(
        insert.values(
            organization_id=agent.organization_id,
            agent_id=agent.id,
            action_type=data.action_type,
            confidence=confidence,
            calibrated_confidence=judgement.calibrated_confidence,
            decision=judgement.decision.value,
            is_critical=bool(critical),
            cost_amount=cost,
            cost_currency=data.cost_currency,
            cost_tokens=data.cost_tokens,
            deal_id=links.deal_id,
            conversation_id=links.conversation_id,
            message_id=links.message_id,
            idempotency_key=key,
            details=dict(data.details),
            occurred_at=occurred_at,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["agent_id", "idempotency_key"])
        .returning(AgentAction.id)
    )
    action_id = inserted.scalar_one_or_none()
    if action_id is None:  # a concurrent retry won the race: answer with its record
        raced = await _by_key(session, agent.id, key)
        assert raced is not None
        return await _answer(raced, judge, created=False)
    action = await session.get_one(AgentAction, action_id)
    await add_action(session, action)
    raise_event(
        session,
        ActionRecorded(
            organization_id=action.organization_id,
            action_id=action.id,
            agent_id=action.agent_id,
            action_type=action.action_type,
            is_critical=action.is_critical,
            has_message=action.message_id is not None,
        ),
    )
    return RecordedAction(
        action, True, judgement.calibrated_confidence, judgement.decision, judgement.policy
    )


async def _by_key(session: AsyncSession, agent_id: int, key: str) -> AgentAction | None:
    return await session.scalar(
        select(AgentAction).where(
            AgentAction.agent_id == agent_id, AgentAction.idempotency_key == key
        )
    )


async def _answer(action: AgentAction, judge: Judge, *, created: bool) -> RecordedAction:
    """The answer first given for ``action`` (what was stored, with the policy now in force)."""
    judgement = await judge(
        action.organization_id, action.agent_id, action.action_type, action.confidence
    )
    calibrated = action.calibrated_confidence
    return RecordedAction(
        action,
        created,
        float(calibrated if calibrated is not None else action.confidence),
        Decision(action.decision) if action.decision else judgement.decision,
        judgement.policy,
    )
