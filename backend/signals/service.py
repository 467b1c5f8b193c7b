"""Use cases of signals: storing raw events once, matching them to actions, and letting the
outcome rules resolve, label or merely note what they say."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.auth.viewer import Viewer, ViewerRole
from backend.crm.models import Conversation, Deal, Message
from backend.database import dialect_insert, is_postgresql, update_rows_by_id, utcnow
from backend.errors import DomainError, ErrorCode, Problems
from backend.orgs.models import Organization
from backend.outcomes.models import Detection, Outcome
from backend.outcomes.resolution import (
    OutcomeState,
    Resolutions,
    outcome_columns,
    states_from_rows,
)
from backend.outcomes.rules import DEAL_WIDE_KINDS, EVENT_BORN_OUTCOMES, OUTCOME_SCALES, rules_for
from backend.signals.models import Signal, SignalKind

MAX_BATCH = 1000
MAX_PAYLOAD_BYTES = 16_384
SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
KINDS = frozenset(k.value for k in SignalKind)


@dataclass(frozen=True)
class SignalInput:
    kind: str
    source: str
    external_id: str
    occurred_at: dt.datetime
    payload: dict[str, Any] = field(default_factory=dict)
    action_id: int | None = None
    message_external_id: str | None = None
    thread_external_id: str | None = None
    deal_external_id: str | None = None


@dataclass
class SignalBatchResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    matched: int = 0
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (source, external id)
    resolved: int = 0
    needs_label: int = 0
    late: int = 0  # decisive signals that arrived after their outcome was decided or expired
    scopes: set[tuple[int, int, str]] = field(default_factory=set)


def _validate(signals: Sequence[SignalInput], now: dt.datetime) -> None:
    if not signals:
        raise DomainError(ErrorCode.REQUIRED, "send at least one signal", field="signals")
    if len(signals) > MAX_BATCH:
        raise DomainError(
            ErrorCode.INVALID, f"at most {MAX_BATCH} signals per batch, got {len(signals)}",
            field="signals",
        )  # fmt: skip
    problems = Problems()
    for i, s in enumerate(signals):
        at = f"signals[{i}]."
        problems.require(s.kind in KINDS, at + "kind", f"unknown kind {s.kind!r}; known: "
                         + ", ".join(sorted(KINDS)))  # fmt: skip
        problems.require(bool(SOURCE_PATTERN.match(s.source or "")), at + "source",
                         "must be 1..40 characters of a-z, 0-9, '_', '.', '-'")  # fmt: skip
        problems.require(0 < len(s.external_id or "") <= 200, at + "externalId",
                         "must be 1..200 characters")  # fmt: skip
        if problems.require(
            isinstance(s.occurred_at, dt.datetime) and s.occurred_at.tzinfo is not None,
            at + "occurredAt", "must be a timestamp with a time zone",
        ):  # fmt: skip
            problems.require(s.occurred_at <= now + dt.timedelta(minutes=5), at + "occurredAt",
                             "is in the future")  # fmt: skip
        if problems.require(isinstance(s.payload, dict), at + "payload", "must be an object"):
            size = len(json.dumps(s.payload, default=str))
            problems.require(size <= MAX_PAYLOAD_BYTES, at + "payload",
                             f"is {size} bytes; at most {MAX_PAYLOAD_BYTES}")  # fmt: skip
        for name in ("message_external_id", "thread_external_id", "deal_external_id"):
            value = getattr(s, name)
            camel = re.sub(r"_(\w)", lambda m: m.group(1).upper(), name)
            problems.require(value is None or 0 < len(value) <= 300, at + camel,
                             "must be 1..300 characters")  # fmt: skip
    problems.raise_if_any()


@dataclass
class _Match:
    """What the batch's references point at, loaded with a handful of set-based queries."""

    messages: dict[str, int] = field(default_factory=dict)
    threads: dict[str, int] = field(default_factory=dict)
    deals: dict[str, int] = field(default_factory=dict)
    actions: dict[int, Any] = field(default_factory=dict)
    outcomes: dict[tuple[int, str], OutcomeState] = field(default_factory=dict)


async def _load(
    session: AsyncSession, viewer: Viewer, signals: list[SignalInput], calibrating: Any
) -> _Match:
    org = viewer.organization_id
    match = _Match()
    refs = {
        "messages": (Message, Message.external_message_id, "message_external_id"),
        "threads": (Conversation, Conversation.external_thread_id, "thread_external_id"),
        "deals": (Deal, Deal.external_id, "deal_external_id"),
    }
    for name, (model, column, attribute) in refs.items():
        wanted = sorted({getattr(s, attribute) for s in signals if getattr(s, attribute)})
        if wanted:
            rows = await session.execute(
                select(column, model.id).where(model.organization_id == org, column.in_(wanted))
            )
            setattr(match, name, {ref: id_ for ref, id_ in rows})
    direct = sorted({s.action_id for s in signals if s.action_id is not None})
    conditions = []
    if direct:
        conditions.append(AgentAction.id.in_(direct))
    for ids, column in ((match.messages, AgentAction.message_id),
                        (match.threads, AgentAction.conversation_id),
                        (match.deals, AgentAction.deal_id)):  # fmt: skip
        if ids:
            conditions.append(column.in_(sorted(ids.values())))
    if not conditions:
        return match
    statement = select(
        AgentAction.id, AgentAction.agent_id, AgentAction.action_type, AgentAction.occurred_at,
        AgentAction.confidence, AgentAction.message_id, AgentAction.conversation_id,
        AgentAction.deal_id,
    ).where(AgentAction.organization_id == org, or_(*conditions))  # fmt: skip
    if not viewer.sees_whole_organization:
        statement = statement.where(AgentAction.agent_id.in_(sorted(viewer.agent_ids or ())))
    match.actions = {row.id: row for row in await session.execute(statement)}
    if match.actions:
        outcome_query = (
            select(*outcome_columns())
            .join(AgentAction, AgentAction.id == Outcome.action_id)
            .where(Outcome.action_id.in_(sorted(match.actions)))
            .order_by(Outcome.id)
        )
        if is_postgresql(session):  # the worker skips rows we hold; we wait for rows it holds
            outcome_query = outcome_query.with_for_update(of=Outcome.__table__)
        for state in states_from_rows(await session.execute(outcome_query), calibrating):
            match.outcomes[(state.action_id, state.outcome_type)] = state
    return match


def _targets(signal: SignalInput, match: _Match, outcome_types: set[str]) -> list[Any]:
    """The actions a signal is about: exact references first, then the thread, then the deal."""
    if signal.action_id is not None:
        candidates = [match.actions[signal.action_id]] if signal.action_id in match.actions else []
    elif signal.message_external_id and signal.message_external_id in match.messages:
        message_id = match.messages[signal.message_external_id]
        candidates = [a for a in match.actions.values() if a.message_id == message_id]
    elif signal.thread_external_id and signal.thread_external_id in match.threads:
        thread_id = match.threads[signal.thread_external_id]
        candidates = [a for a in match.actions.values() if a.conversation_id == thread_id]
    elif signal.deal_external_id and signal.deal_external_id in match.deals:
        deal_id = match.deals[signal.deal_external_id]
        candidates = [a for a in match.actions.values() if a.deal_id == deal_id]
    else:
        return []
    candidates = [
        a for a in candidates
        if a.occurred_at <= signal.occurred_at
        and (not outcome_types  # a signal without effects still tells what it is about
             or any((a.id, t) in match.outcomes or EVENT_BORN_OUTCOMES.get(t) == a.action_type
                    for t in outcome_types))
    ]  # fmt: skip
    if signal.kind in DEAL_WIDE_KINDS or signal.action_id is not None:
        return candidates
    # A reply or a meeting event concerns the latest action before it in the thread.
    return sorted(candidates, key=lambda a: (a.occurred_at, a.id))[-1:]


async def _event_born(
    session: AsyncSession, organization_id: int, action: Any, outcome_type: str, at: dt.datetime
) -> OutcomeState:
    """An outcome that exists only once its event happens (e.g. a meeting's feedback)."""
    outcome = Outcome(
        organization_id=organization_id, agent_id=action.agent_id,
        action_id=action.id, action_type=action.action_type, outcome_type=outcome_type,
        window="event", scale=OUTCOME_SCALES[outcome_type].name, status="open",
        detection="automatic", opened_at=at, due_at=None, evidence={},
    )  # fmt: skip
    session.add(outcome)
    await session.flush()
    return OutcomeState(
        outcome.id, organization_id, action.agent_id, action.id, action.action_type,
        outcome_type, "open", None, None, None, {}, float(action.confidence),
        action.occurred_at.date(), calibrates=False,
    )  # fmt: skip


async def record_signals(
    session: AsyncSession, viewer: Viewer, signals: Sequence[SignalInput],
    *, now: dt.datetime | None = None,
) -> SignalBatchResult:  # fmt: skip
    """Store a batch of signals (each once per source and external id), match each to its
    action(s) and apply the outcome rules. Unmatched signals are stored and reported."""
    if viewer.role not in (ViewerRole.AGENT, ViewerRole.PARTNER, ViewerRole.ADMIN):
        raise DomainError(ErrorCode.FORBIDDEN, "signals come from the agent or an integration")
    viewer.require_scope("write:signals")
    now = now or utcnow()
    signals = list(signals)
    _validate(signals, now)
    result = SignalBatchResult(received=len(signals))
    org = viewer.organization_id
    unique: dict[tuple[str, str], SignalInput] = {}
    for s in signals:
        unique.setdefault((s.source, s.external_id), s)
    insert = dialect_insert(session, Signal)
    stored = await session.execute(
        insert.on_conflict_do_nothing(
            index_elements=["organization_id", "source", "external_id"]
        ).returning(Signal.id, Signal.source, Signal.external_id),
        [
            {"organization_id": org, "kind": s.kind, "source": s.source,
             "external_id": s.external_id, "payload": s.payload, "occurred_at": s.occurred_at,
             "received_at": now, "matched": False}
            for s in unique.values()
        ],
    )  # fmt: skip
    ids = {(source, external): id_ for id_, source, external in stored}
    fresh = sorted(
        (s for key, s in unique.items() if key in ids), key=lambda s: (s.occurred_at, s.external_id)
    )
    result.stored, result.duplicates = len(fresh), len(signals) - len(fresh)
    if not fresh:
        return result
    config = await session.scalar(select(Organization.config).where(Organization.id == org))
    rules = rules_for(config)
    match = await _load(session, viewer, fresh, lambda t: rules.calibrating_plan(t).outcome_type)
    resolutions = Resolutions()
    signal_updates = []
    for signal in fresh:
        signal_id = ids[(signal.source, signal.external_id)]
        effects = rules.effects(signal.kind, signal.payload)
        targets = _targets(signal, match, {e.outcome_type for e in effects})
        for action in targets:
            for effect in effects:
                outcome = match.outcomes.get((action.id, effect.outcome_type))
                if outcome is None:
                    if EVENT_BORN_OUTCOMES.get(effect.outcome_type) != action.action_type:
                        continue
                    outcome = await _event_born(session, org, action, effect.outcome_type, now)
                    match.outcomes[(action.id, effect.outcome_type)] = outcome
                if not outcome.is_open or (
                    outcome.due_at is not None and signal.occurred_at > outcome.due_at
                ):
                    result.late += effect.level is not None or effect.label_reason is not None
                    continue
                if effect.weak or effect.note:
                    resolutions.note(outcome, effect.weak or effect.note or "")
                elif effect.label_reason:
                    resolutions.needs_label(outcome, effect.label_reason, signal_id=signal_id)
                elif any(outcome.evidence.get(k) for k in effect.ambiguous_if):
                    reason = f"{signal.kind} after {', '.join(effect.ambiguous_if)}: ambiguous"
                    resolutions.needs_label(outcome, reason, signal_id=signal_id)
                elif effect.level is not None:
                    resolutions.resolve(
                        outcome, effect.level, when=signal.occurred_at,
                        detection=Detection.AUTOMATIC, signal_id=signal_id,
                    )  # fmt: skip
        first = targets[0] if targets else None
        if first is not None:
            result.matched += 1
        else:
            result.unmatched.append((signal.source, signal.external_id))
        signal_updates.append({
            "id": signal_id, "matched": first is not None,
            "agent_id": first.agent_id if first else None,
            "deal_id": first.deal_id if first else match.deals.get(signal.deal_external_id or ""),
            "conversation_id": first.conversation_id if first else
            match.threads.get(signal.thread_external_id or ""),
            "message_id": first.message_id if first else
            match.messages.get(signal.message_external_id or ""),
        })  # fmt: skip
    await update_rows_by_id(session, Signal, signal_updates)
    await resolutions.apply(session)
    result.resolved = resolutions.resolved
    result.needs_label = len(resolutions.labelling)
    result.scopes = resolutions.scopes()
    return result
