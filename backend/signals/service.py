"""Use cases of signals: storing raw events once, matching them to actions, and letting the
outcome rules resolve, label or merely note what they say."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from backend.actions.models import EARLIEST, AgentAction
from backend.crm.models import Conversation, Deal, Message
from backend.database import (
    OrganizationRow,
    among,
    insert_rows,
    is_postgresql,
    utc_date,
    utcnow,
)
from backend.errors import DomainError, ErrorCode, Problems
from backend.orgs.models import Organization
from backend.outcomes.models import Detection, Outcome
from backend.outcomes.resolution import (
    OutcomeState,
    Resolutions,
    ResolvedPrediction,
    open_event_born,
    outcome_columns,
    states_from_rows,
)
from backend.outcomes.rules import (
    DEAL_WIDE_KINDS,
    EVENT_BORN_OUTCOMES,
    Effect,
    rules_for,
)
from backend.signals import engagement_rollup, rollup
from backend.signals.engagement import is_machine
from backend.signals.models import Signal, SignalKind
from backend.signals.payloads import payload_problems
from backend.viewer import Viewer, ViewerRole

MAX_BATCH = 1000
MAX_PAYLOAD_BYTES = 16_384
SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
KINDS = frozenset(k.value for k in SignalKind)


@dataclass(frozen=True, slots=True)
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
    # What the calibration rollup is to count, in the same unit of work.
    predictions: list[ResolvedPrediction] = field(default_factory=list)


KNOWN_KINDS = ", ".join(sorted(KINDS))
# The references a signal may carry, with their names in the API (camelCase).
REFERENCES = {
    name: re.sub(r"_(\w)", lambda m: m.group(1).upper(), name)
    for name in ("message_external_id", "thread_external_id", "deal_external_id")
}


WEBHOOK_WRITER = "webhook"


def writer_of(viewer: Viewer) -> str:
    """The principal a signal is written by, part of its idempotency key: an API key, a person,
    or the organisation's signed webhooks (the service acting for the organisation). A retry by
    the same writer counts once; another writer's event with the same source and id is its own
    (one principal can never make another's events vanish as "duplicates")."""
    if viewer.api_client_id is not None:
        return f"key:{viewer.api_client_id}"
    if viewer.user_id is not None:
        return f"user:{viewer.user_id}"
    return WEBHOOK_WRITER


def _validate(signals: Sequence[SignalInput], now: dt.datetime) -> None:
    if not signals:
        raise DomainError(ErrorCode.REQUIRED, "send at least one signal", field="signals")
    if len(signals) > MAX_BATCH:
        raise DomainError(
            ErrorCode.INVALID,
            f"at most {MAX_BATCH} signals per batch, got {len(signals)}",
            field="signals",
        )
    latest = now + dt.timedelta(minutes=5)
    problems = Problems()
    for i, s in enumerate(signals):
        at = f"signals[{i}]."
        if s.kind not in KINDS:
            problems.add(at + "kind", f"unknown kind {s.kind!r}; known: {KNOWN_KINDS}")
        if not SOURCE_PATTERN.match(s.source or ""):
            problems.add(at + "source", "must be 1..40 characters of a-z, 0-9, '_', '.', '-'")
        if not 0 < len(s.external_id or "") <= 200:
            problems.add(at + "externalId", "must be 1..200 characters")
        if not (isinstance(s.occurred_at, dt.datetime) and s.occurred_at.tzinfo is not None):
            problems.add(at + "occurredAt", "must be a timestamp with a time zone")
        elif s.occurred_at > latest:
            problems.add(at + "occurredAt", "is in the future")
        elif s.occurred_at < EARLIEST:
            problems.add(at + "occurredAt", f"is before {EARLIEST.date()}")
        if not isinstance(s.payload, dict):
            problems.add(at + "payload", "must be an object")
        elif (size := len(json.dumps(s.payload, default=str))) > MAX_PAYLOAD_BYTES:
            problems.add(at + "payload", f"is {size} bytes; at most {MAX_PAYLOAD_BYTES}")
        else:
            for key, message in payload_problems(s.kind, s.payload):
                problems.add(f"{at}payload.{key}", message)
        for name, camel in REFERENCES.items():
            value = getattr(s, name)
            if not (value is None or 0 < len(value) <= 300):
                problems.add(at + camel, "must be 1..300 characters")
    problems.raise_if_any()


class _Action(NamedTuple):
    """What matching and the rules read of an action (a tuple: attribute access is cheap)."""

    id: int
    agent_id: int
    action_type: str
    occurred_at: dt.datetime
    confidence: float
    message_id: int | None
    conversation_id: int | None
    deal_id: int | None


@dataclass
class _Match:
    """What the batch's references point at, loaded with a handful of set-based queries."""

    messages: dict[str, int] = field(default_factory=dict)
    threads: dict[str, int] = field(default_factory=dict)
    deals: dict[str, int] = field(default_factory=dict)
    actions: dict[int, _Action] = field(default_factory=dict)
    # The actions by their message, thread and deal (in the order of `actions`).
    by_link: dict[str, dict[int, list[_Action]]] = field(default_factory=dict)
    outcomes: dict[tuple[int, str], OutcomeState] = field(default_factory=dict)

    def linked(self, link: str, id_: int) -> list[_Action]:
        return self.by_link.get(link, {}).get(id_, [])


async def _load(
    session: AsyncSession, viewer: Viewer, signals: list[SignalInput], calibrating: Any
) -> _Match:
    org = viewer.organization_id
    match = _Match()
    # model, its column of provider ids, the signal's attribute that carries one
    refs: dict[str, tuple[type[OrganizationRow], InstrumentedAttribute[str | None], str]] = {
        "messages": (Message, Message.external_message_id, "message_external_id"),
        "threads": (Conversation, Conversation.external_thread_id, "thread_external_id"),
        "deals": (Deal, Deal.external_id, "deal_external_id"),
    }
    for name, (model, column, attribute) in refs.items():
        wanted = {getattr(s, attribute) for s in signals if getattr(s, attribute)}
        if wanted:
            rows = await session.execute(
                select(column, model.id).where(
                    model.organization_id == org, among(session, column, wanted)
                )
            )
            setattr(match, name, {ref: id_ for ref, id_ in rows})
    direct = {s.action_id for s in signals if s.action_id is not None}
    conditions = []
    if direct:
        conditions.append(among(session, AgentAction.id, direct))
    for ids, link_column in (
        (match.messages, AgentAction.message_id),
        (match.threads, AgentAction.conversation_id),
        (match.deals, AgentAction.deal_id),
    ):
        if ids:
            conditions.append(among(session, link_column, ids.values()))
    if not conditions:
        return match
    # Core columns (no ORM entities): plain rows, without the ORM's per-row bookkeeping.
    actions, outcomes = AgentAction.__table__, Outcome.__table__
    statement = select(*(actions.c[name] for name in _Action._fields)).where(
        actions.c.organization_id == org, or_(*conditions)
    )
    if not viewer.sees_whole_organization:
        statement = statement.where(among(session, actions.c.agent_id, viewer.agent_ids or ()))
    match.actions = {row[0]: _Action(*row) for row in await session.execute(statement)}
    for link in ("message_id", "conversation_id", "deal_id"):
        by_id: dict[int, list[_Action]] = {}
        for action in match.actions.values():
            if getattr(action, link) is not None:
                by_id.setdefault(getattr(action, link), []).append(action)
        match.by_link[link] = by_id
    if match.actions:
        outcome_query = (
            select(*outcome_columns(joined=False))
            .where(among(session, outcomes.c.action_id, match.actions))
            .order_by(outcomes.c.id)
        )
        if is_postgresql(session):  # the worker skips rows we hold; we wait for rows it holds
            outcome_query = outcome_query.with_for_update()
        rows = await session.execute(outcome_query)
        for state in states_from_rows(rows, calibrating, actions=match.actions):
            match.outcomes[(state.action_id, state.outcome_type)] = state
    return match


def _targets(signal: SignalInput, match: _Match, outcome_types: set[str]) -> tuple[_Action, ...]:
    """The actions a signal is about: exact references first, then the thread, then the deal."""
    if signal.action_id is not None:
        candidates = [match.actions[signal.action_id]] if signal.action_id in match.actions else []
    elif signal.message_external_id and signal.message_external_id in match.messages:
        candidates = match.linked("message_id", match.messages[signal.message_external_id])
    elif signal.thread_external_id and signal.thread_external_id in match.threads:
        candidates = match.linked("conversation_id", match.threads[signal.thread_external_id])
    elif signal.deal_external_id and signal.deal_external_id in match.deals:
        candidates = match.linked("deal_id", match.deals[signal.deal_external_id])
    else:
        return ()
    before = [a for a in candidates if a.occurred_at <= signal.occurred_at]
    candidates = [
        a
        for a in before
        if not outcome_types  # a signal without effects still tells what it is about
        or any(
            (a.id, t) in match.outcomes or EVENT_BORN_OUTCOMES.get(t) == a.action_type
            for t in outcome_types
        )
    ]
    if signal.kind in DEAL_WIDE_KINDS and not candidates and before:
        # A deal's move with no action on it that it could resolve (say, the deal's only
        # action is an e-mail) still credits the latest action on the deal: its agent's deal
        # impact counts the move; no outcome changes.
        return (max(before, key=lambda a: (a.occurred_at, a.id)),)
    if signal.kind in DEAL_WIDE_KINDS or signal.action_id is not None:
        return tuple(candidates)
    # A reply or a meeting event concerns the latest action before it in the thread.
    return tuple(sorted(candidates, key=lambda a: (a.occurred_at, a.id))[-1:])


async def _event_born(
    session: AsyncSession, organization_id: int, action: _Action, outcome_type: str, at: dt.datetime
) -> OutcomeState:
    """An outcome that exists only once its event happens (e.g. a meeting's feedback)."""
    outcome_id = await open_event_born(
        session,
        organization_id=organization_id,
        agent_id=action.agent_id,
        action_id=action.id,
        action_type=action.action_type,
        outcome_type=outcome_type,
        at=at,
        acted_at=action.occurred_at,
    )
    return OutcomeState(
        outcome_id,
        organization_id,
        action.agent_id,
        action.id,
        action.action_type,
        outcome_type,
        "open",
        None,
        None,
        None,
        {},
        float(action.confidence),
        utc_date(action.occurred_at),
        calibrates=False,
    )


def _signal_row(
    organization_id: int,
    writer: str,
    signal: SignalInput,
    targets: tuple[_Action, ...],
    match: _Match,
    now: dt.datetime,
) -> dict[str, Any]:
    """The signal's row, with what it is about: its first target's links, else its references;
    an open or click made by software is marked ``machine`` (the e-mail's delivery is its
    action's time)."""
    first = targets[0] if targets else None
    user_agent = signal.payload.get("user_agent")
    machine = is_machine(
        signal.kind,
        user_agent=user_agent if isinstance(user_agent, str) else None,
        seconds_after_delivery=(signal.occurred_at - first.occurred_at).total_seconds()
        if first
        else None,
    )
    return {
        "organization_id": organization_id,
        "kind": signal.kind,
        "writer": writer,
        "source": signal.source,
        "external_id": signal.external_id,
        "payload": signal.payload,
        "occurred_at": signal.occurred_at,
        "received_at": now,
        "matched": first is not None,
        "machine": machine,
        "agent_id": first.agent_id if first else None,
        "deal_id": first.deal_id if first else match.deals.get(signal.deal_external_id or ""),
        "conversation_id": first.conversation_id
        if first
        else match.threads.get(signal.thread_external_id or ""),
        "message_id": first.message_id
        if first
        else match.messages.get(signal.message_external_id or ""),
    }


async def _store(
    session: AsyncSession,
    organization_id: int,
    writer: str,
    batch: list[SignalInput],
    targets: list[tuple[_Action, ...]],
    match: _Match,
    now: dt.datetime,
) -> dict[tuple[str, str], int]:
    """Insert the batch's signals, each with what it is about -> the ids of the new ones, by
    source and external id (a signal its writer stored before is skipped)."""
    rows = [
        _signal_row(organization_id, writer, s, t, match, now)
        for s, t in zip(batch, targets, strict=True)
    ]
    stored = await insert_rows(
        session,
        Signal,
        rows,
        conflict=["organization_id", "writer", "source", "external_id"],
        returning=["id", "source", "external_id"],
    )
    ids = {(source, external): id_ for id_, source, external in stored}
    new = [r for r in rows if (r["source"], r["external_id"]) in ids]
    await rollup.add_signals(session, new)
    await engagement_rollup.add_signals(session, new)
    return ids


async def record_signals(
    session: AsyncSession,
    viewer: Viewer,
    signals: Sequence[SignalInput],
    *,
    now: dt.datetime | None = None,
) -> SignalBatchResult:
    """Store a batch of signals (each once per writer, source and external id: ``writer_of``),
    match each to its action(s) and apply the outcome rules. Unmatched signals are stored and
    reported."""
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
    batch = sorted(unique.values(), key=lambda s: (s.occurred_at, s.external_id))
    config = await session.scalar(select(Organization.config).where(Organization.id == org))
    rules = rules_for(config)
    # Match before storing, so that each signal's row is written once and complete (the
    # outcomes it may change are locked from here on). The insert then decides which signals
    # are new: a signal stored before (a retry) is skipped and changes nothing.
    match = await _load(session, viewer, batch, lambda t: rules.calibrating_plan(t).outcome_type)
    # The rules build new (frozen, equal) effects for each signal; one shared copy of each
    # distinct tuple leaves a batch few live objects to slow the garbage collector down.
    distinct: dict[tuple[Effect, ...], tuple[Effect, ...]] = {}
    effects = [distinct.setdefault(e, e) for e in (rules.effects(s.kind, s.payload) for s in batch)]
    targets = [
        _targets(s, match, {e.outcome_type for e in signal_effects})
        for s, signal_effects in zip(batch, effects, strict=True)
    ]
    ids = await _store(session, org, writer_of(viewer), batch, targets, match, now)
    result.stored, result.duplicates = len(ids), len(signals) - len(ids)
    resolutions = Resolutions(now)
    for signal, signal_effects, signal_targets in zip(batch, effects, targets, strict=True):
        signal_id = ids.get((signal.source, signal.external_id))
        if signal_id is None:
            continue  # a duplicate
        await _apply_effects(
            session,
            org,
            signal,
            signal_id,
            signal_effects,
            signal_targets,
            match,
            resolutions,
            result,
            now,
        )
        if signal_targets:
            result.matched += 1
        else:
            result.unmatched.append((signal.source, signal.external_id))
    await resolutions.apply(session)
    result.resolved = resolutions.resolved
    result.needs_label = len(resolutions.labelling)
    result.predictions = resolutions.predictions
    return result


async def _apply_effects(
    session: AsyncSession,
    organization_id: int,
    signal: SignalInput,
    signal_id: int,
    effects: tuple[Effect, ...],
    targets: tuple[_Action, ...],
    match: _Match,
    resolutions: Resolutions,
    result: SignalBatchResult,
    now: dt.datetime,
) -> None:
    """Let one stored signal's effects resolve, label or annotate its targets' outcomes."""
    for action in targets:
        for effect in effects:
            outcome = match.outcomes.get((action.id, effect.outcome_type))
            if outcome is None:
                if EVENT_BORN_OUTCOMES.get(effect.outcome_type) != action.action_type:
                    continue
                outcome = await _event_born(
                    session, organization_id, action, effect.outcome_type, now
                )
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
                    outcome,
                    effect.level,
                    when=signal.occurred_at,
                    detection=Detection.AUTOMATIC,
                    signal_id=signal_id,
                )
