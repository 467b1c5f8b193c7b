"""Use cases of actions: the Sales Agent records what it did, and learns at once what its
confidence is worth (calibrated) and what its policy says (act, review or escalate)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import ActionType, AgentAction, Decision
from backend.agents.models import Agent
from backend.auth.viewer import Viewer, ViewerRole
from backend.calibration.models import AgentPolicy
from backend.calibration.policy import decide, get_or_create_policy
from backend.calibration.service import recalibration_in_force
from backend.crm.links import resolve_links
from backend.database import dialect_insert, utcnow
from backend.errors import DomainError, ErrorCode, NotFoundError, Problems
from backend.orgs.models import Organization
from backend.outcomes.models import Outcome, OutcomeStatus
from backend.outcomes.rules import rules_for

MAX_COST = Decimal(1_000_000)  # per action; the column holds 6 digits before the point
MAX_DETAILS_BYTES = 16_384
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
ACTION_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
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
class RecordedAction:
    action: AgentAction
    created: bool  # False when this was a retry of an earlier request
    calibrated_confidence: float
    decision: Decision
    policy: AgentPolicy
    outcomes: list[Outcome]


def _validate(data: ActionInput, now: dt.datetime) -> tuple[Decimal, dt.datetime]:
    problems = Problems()
    problems.require(
        bool(ACTION_TYPE_PATTERN.match(data.action_type or "")), "actionType",
        "must be a lower_snake_case name of at most 40 characters, e.g. 'email'",
    )  # fmt: skip
    confidence_ok = isinstance(data.confidence, int | float) and math.isfinite(data.confidence)
    problems.require(
        confidence_ok and 0.0 <= float(data.confidence) <= 1.0, "confidence",
        f"must be a number in [0, 1], got {data.confidence!r}",
    )  # fmt: skip
    key = data.idempotency_key or ""
    problems.require(0 < len(key.strip()) <= 200, "idempotencyKey", "must be 1..200 characters")
    cost = Decimal(0)
    try:
        cost = Decimal(str(data.cost_amount))
        problems.require(
            cost.is_finite() and 0 <= cost < MAX_COST, "cost.amount",
            f"must be 0 or more and below {MAX_COST:,}",
        )  # fmt: skip
    except InvalidOperation:
        problems.add("cost.amount", f"is not a number: {data.cost_amount!r}")
    problems.require(
        bool(CURRENCY_PATTERN.match(data.cost_currency or "")), "cost.currency",
        "must be a 3-letter ISO 4217 code such as 'USD'",
    )  # fmt: skip
    problems.require(
        isinstance(data.cost_tokens, int) and data.cost_tokens >= 0, "cost.tokens",
        "must be a whole number, 0 or more",
    )  # fmt: skip
    occurred_at = data.occurred_at or now
    if problems.require(occurred_at.tzinfo is not None, "occurredAt", "must carry a time zone"):
        problems.require(
            EARLIEST <= occurred_at <= now + dt.timedelta(minutes=5), "occurredAt",
            f"must lie between {EARLIEST.date()} and now",
        )  # fmt: skip
    problems.require(data.subject is None or len(data.subject) <= 500, "subject",
                     "must be at most 500 characters")  # fmt: skip
    size = len(json.dumps(data.details, default=str)) if isinstance(data.details, dict) else -1
    problems.require(0 <= size <= MAX_DETAILS_BYTES, "details",
                     f"must be an object of at most {MAX_DETAILS_BYTES} bytes")  # fmt: skip
    for name, value in (("dealExternalId", data.deal_external_id),
                        ("threadExternalId", data.thread_external_id),
                        ("messageExternalId", data.message_external_id)):  # fmt: skip
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
    session: AsyncSession, viewer: Viewer, data: ActionInput, *, now: dt.datetime | None = None
) -> RecordedAction:
    """Record an action, open its outcome windows, and answer with the calibrated confidence
    and the policy's decision. A retry with the same idempotency key returns the first record."""
    viewer.require_scope("write:actions")
    now = now or utcnow()
    cost, occurred_at = _validate(data, now)
    agent = await _acting_agent(session, viewer, data.agent_id)
    key = data.idempotency_key.strip()
    existing = await _by_key(session, agent.id, key)
    if existing is not None:
        return await _answer(session, existing, created=False)
    links = await resolve_links(
        session, agent=agent, deal_external_id=data.deal_external_id,
        thread_external_id=data.thread_external_id,
        message_external_id=data.message_external_id, subject=data.subject, sent_at=occurred_at,
    )  # fmt: skip
    known = data.action_type in ActionType.__members__.values()
    critical = data.is_critical if data.is_critical is not None else (
        known and ActionType(data.action_type).is_critical
    )  # fmt: skip
    policy = await get_or_create_policy(
        session, organization_id=agent.organization_id, agent_id=agent.id,
        action_type=data.action_type,
    )  # fmt: skip
    recalibration = await recalibration_in_force(
        session, organization_id=agent.organization_id, agent_id=agent.id,
        action_type=data.action_type,
    )  # fmt: skip
    confidence = float(data.confidence)
    insert = dialect_insert(session, AgentAction)
    inserted = await session.execute(
        insert.values(
            organization_id=agent.organization_id, agent_id=agent.id,
            action_type=data.action_type, confidence=confidence,
            calibrated_confidence=float(recalibration.apply(confidence)),
            decision=decide(policy, confidence).value, is_critical=bool(critical),
            cost_amount=cost, cost_currency=data.cost_currency, cost_tokens=data.cost_tokens,
            deal_id=links.deal_id, conversation_id=links.conversation_id,
            message_id=links.message_id, idempotency_key=key, details=dict(data.details),
            occurred_at=occurred_at, created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["agent_id", "idempotency_key"])
        .returning(AgentAction.id)
    )  # fmt: skip
    action_id = inserted.scalar_one_or_none()
    if action_id is None:  # a concurrent retry won the race: answer with its record
        raced = await _by_key(session, agent.id, key)
        assert raced is not None
        return await _answer(session, raced, created=False)
    action = await session.get_one(AgentAction, action_id)
    org_config = await session.scalar(
        select(Organization.config).where(Organization.id == agent.organization_id)
    )
    rules = rules_for(org_config)
    outcomes = [
        Outcome(
            organization_id=agent.organization_id, agent_id=agent.id, action_id=action.id,
            action_type=action.action_type, outcome_type=plan.outcome_type,
            window=plan.window.value, scale=plan.scale.name,
            status=OutcomeStatus.OPEN.value, detection="automatic", opened_at=occurred_at,
            due_at=rules.due_at(plan.window, occurred_at), evidence={},
        )
        for plan in rules.plans_for(action.action_type)
    ]  # fmt: skip
    session.add_all(outcomes)
    await session.flush()
    return RecordedAction(
        action, True, float(action.calibrated_confidence or confidence),
        Decision(action.decision or decide(policy, confidence)), policy, outcomes,
    )  # fmt: skip


async def _by_key(session: AsyncSession, agent_id: int, key: str) -> AgentAction | None:
    return await session.scalar(
        select(AgentAction).where(
            AgentAction.agent_id == agent_id, AgentAction.idempotency_key == key
        )
    )


async def _answer(session: AsyncSession, action: AgentAction, *, created: bool) -> RecordedAction:
    policy = await get_or_create_policy(
        session, organization_id=action.organization_id, agent_id=action.agent_id,
        action_type=action.action_type,
    )  # fmt: skip
    outcomes = list(await session.scalars(select(Outcome).where(Outcome.action_id == action.id)))
    calibrated = action.calibrated_confidence
    return RecordedAction(
        action, created, float(calibrated if calibrated is not None else action.confidence),
        Decision(action.decision) if action.decision else decide(policy, action.confidence),
        policy, outcomes,
    )  # fmt: skip
