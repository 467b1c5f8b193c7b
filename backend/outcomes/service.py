"""Use cases of outcomes: people label what the rules could not decide (or correct them), and
the agent states outcomes directly. The labelling queue is a read model (repository.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.database import is_postgresql, utc_date, utcnow
from backend.errors import DomainError, ErrorCode, NotFoundError, Problems
from backend.orgs.models import Organization
from backend.outcomes import rollup
from backend.outcomes.models import Detection, Outcome, OutcomeLabel, OutcomeStatus
from backend.outcomes.resolution import (
    OutcomeState,
    Resolutions,
    open_event_born,
    outcome_columns,
    states_from_rows,
)
from backend.outcomes.rollup import Cell
from backend.outcomes.rules import EVENT_BORN_OUTCOMES, OUTCOME_SCALES, rules_for
from backend.viewer import Viewer, ViewerRole, scoped

NOTE_MAX_LENGTH = 1000
LABELLERS = (ViewerRole.REP, ViewerRole.MANAGER, ViewerRole.EXECUTIVE, ViewerRole.ADMIN)


@dataclass(frozen=True)
class Labelled:
    outcome_id: int
    correction: bool  # True when it replaced an earlier resolution
    resolutions: Resolutions


async def _state(session: AsyncSession, viewer: Viewer, outcome_id: int) -> OutcomeState:
    statement = scoped(
        select(*outcome_columns()).join(AgentAction, AgentAction.id == Outcome.action_id),
        Outcome,
        viewer,
    ).where(Outcome.id == outcome_id)
    if is_postgresql(session):
        statement = statement.with_for_update(of=Outcome.__table__)
    config = await session.scalar(
        select(Organization.config).where(Organization.id == viewer.organization_id)
    )
    rules = rules_for(config)
    rows = (await session.execute(statement)).all()
    states = states_from_rows(rows, lambda t: rules.calibrating_plan(t).outcome_type)
    if not states:
        raise NotFoundError("outcome", field="outcomeId")
    return states[0]


def _check_level(outcome_type: str, level: str | int, note: str | None) -> None:
    problems = Problems()
    scale = OUTCOME_SCALES[outcome_type]
    if isinstance(level, str):
        problems.require(
            level in scale.levels,
            "level",
            f"{level!r} is not on the {scale.name} scale: {', '.join(scale.levels)}",
        )
    else:
        problems.require(
            isinstance(level, int) and 0 <= level < scale.size,
            "level",
            f"must be 0..{scale.size - 1} on the {scale.name} scale",
        )
    problems.require(
        note is None or len(note) <= NOTE_MAX_LENGTH,
        "note",
        f"must be at most {NOTE_MAX_LENGTH} characters",
    )
    problems.raise_if_any()


async def label_outcome(
    session: AsyncSession,
    viewer: Viewer,
    *,
    outcome_id: int,
    level: str | int,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> Labelled:
    """A person resolves a labelling task, or corrects a resolved outcome. Audited; a correction
    takes the old contribution out of the calibration statistics and adds the new one."""
    if viewer.role not in LABELLERS or viewer.user_id is None:
        raise DomainError(ErrorCode.FORBIDDEN, "only people label outcomes")
    outcome = await _state(session, viewer, outcome_id)
    _check_level(outcome.outcome_type, level, note)
    return await _decide(
        session,
        outcome,
        level,
        note=note,
        now=now or utcnow(),
        user_id=viewer.user_id,
        api_client_id=None,
    )


async def record_outcome(
    session: AsyncSession,
    viewer: Viewer,
    *,
    action_id: int,
    outcome_type: str,
    level: str | int,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> Labelled:
    """The Sales Agent states an outcome of one of its actions directly, on the type's scale."""
    viewer.require_scope("write:outcomes")
    if viewer.role not in (ViewerRole.AGENT, ViewerRole.ADMIN):
        raise DomainError(ErrorCode.FORBIDDEN, "only the agent states outcomes directly")
    if outcome_type not in OUTCOME_SCALES:
        raise DomainError(
            ErrorCode.INVALID, f"unknown outcome type {outcome_type!r}", field="outcomeType"
        )
    _check_level(outcome_type, level, note)
    action = await session.scalar(
        scoped(select(AgentAction), AgentAction, viewer).where(AgentAction.id == action_id)
    )
    if action is None:
        raise NotFoundError("action", field="actionId")
    outcome_id = await session.scalar(
        select(Outcome.id).where(
            Outcome.action_id == action.id, Outcome.outcome_type == outcome_type
        )
    )
    if outcome_id is None:
        if EVENT_BORN_OUTCOMES.get(outcome_type) != action.action_type:
            raise DomainError(
                ErrorCode.INVALID,
                f"a {action.action_type} action has no {outcome_type!r} outcome",
                field="outcomeType",
            )
        outcome_id = await open_event_born(
            session,
            organization_id=action.organization_id,
            agent_id=action.agent_id,
            action_id=action.id,
            action_type=action.action_type,
            outcome_type=outcome_type,
            at=now or utcnow(),
            acted_at=action.occurred_at,
        )
    outcome = await _state(session, viewer, outcome_id)
    return await _decide(
        session,
        outcome,
        level,
        note=note,
        now=now or utcnow(),
        user_id=None,
        api_client_id=viewer.api_client_id,
    )


async def _decide(
    session: AsyncSession,
    outcome: OutcomeState,
    level: str | int,
    *,
    note: str | None,
    now: dt.datetime,
    user_id: int | None,
    api_client_id: int | None,
) -> Labelled:
    previous = (outcome.status, outcome.level, outcome.value)
    correction = outcome.status == OutcomeStatus.RESOLVED
    resolutions = Resolutions(now)
    detection = Detection.HUMAN if user_id is not None else Detection.AUTOMATIC
    resolutions.resolve(outcome, level, when=now, detection=detection, user_id=user_id)
    session.add(
        OutcomeLabel(
            organization_id=outcome.organization_id,
            agent_id=outcome.agent_id,
            outcome_id=outcome.id,
            labeled_by_id=user_id,
            api_client_id=api_client_id,
            previous_status=previous[0],
            previous_level=previous[1],
            previous_value=previous[2],
            level=int(outcome.level or 0),
            value=float(outcome.value or 0.0),
            note=note,
            created_at=now,
        )
    )
    await resolutions.apply(session)
    return Labelled(outcome.id, correction, resolutions)


async def open_windows(session: AsyncSession, action: AgentAction) -> list[Outcome]:
    """Open the outcome windows of an action just recorded, by its organisation's rules (in the
    action's unit of work: an action never exists without them)."""
    config = await session.scalar(
        select(Organization.config).where(Organization.id == action.organization_id)
    )
    rules = rules_for(config)
    outcomes = [
        Outcome(
            organization_id=action.organization_id,
            agent_id=action.agent_id,
            action_id=action.id,
            action_type=action.action_type,
            outcome_type=plan.outcome_type,
            window=plan.window.value,
            scale=plan.scale.name,
            status=OutcomeStatus.OPEN.value,
            detection="automatic",
            opened_at=action.occurred_at,
            due_at=rules.due_at(plan.window, action.occurred_at),
            evidence={},
        )
        for plan in rules.plans_for(action.action_type)
    ]
    session.add_all(outcomes)
    await session.flush()
    day = utc_date(action.occurred_at)
    await rollup.add_changes(
        session,
        [
            (
                Cell(o.organization_id, o.agent_id, day, o.action_type, o.outcome_type),
                None,
                (o.status, None),
            )
            for o in outcomes
        ],
    )
    return outcomes


async def outcomes_of(session: AsyncSession, action_id: int) -> list[Outcome]:
    return list(await session.scalars(select(Outcome).where(Outcome.action_id == action_id)))


class DecidedOutcome(NamedTuple):
    """A decided calibrating outcome: the agent, the day its action was taken, the action's
    stated confidence ``p`` and the outcome's value ``y``."""

    agent_id: int
    day: dt.date
    p: float
    y: float


async def decided_outcomes(
    session: AsyncSession,
    *,
    organization_id: int,
    action_type: str,
    config: dict[str, Any] | None,
    after: dt.date,
    through: dt.date,
) -> list[DecidedOutcome]:
    """The decided calibrating outcomes (``rules.calibrating_plan``) of the organisation's
    ``action_type`` actions taken after the day ``after`` up to the day ``through``, in the
    order the actions were taken (their time, then id): an order that owes nothing to the
    outcomes themselves, as sequential tests need. Outcomes still open or awaiting a label are
    left out: read only matured days."""
    outcome_type = rules_for(config).calibrating_plan(action_type).outcome_type
    start = dt.datetime.combine(after + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(through + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    rows = await session.execute(
        select(Outcome.agent_id, Outcome.opened_at, AgentAction.confidence, Outcome.value)
        .join(AgentAction, AgentAction.id == Outcome.action_id)
        .where(
            Outcome.organization_id == organization_id,
            Outcome.opened_at >= start,
            Outcome.opened_at < end,
            Outcome.action_type == action_type,
            Outcome.outcome_type == outcome_type,
            Outcome.status == OutcomeStatus.RESOLVED.value,
        )
        .order_by(Outcome.opened_at, Outcome.id)
    )
    return [
        DecidedOutcome(agent_id, utc_date(opened_at), float(p), float(y or 0.0))  # decided
        for agent_id, opened_at, p, y in rows
    ]
