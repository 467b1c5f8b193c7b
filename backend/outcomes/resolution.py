"""Resolving outcomes: the one place that turns decisions into rows, the predictions the
calibration rollup counts, and events (`OutcomeResolved`, the live `outcome.needs_label`),
whoever decided (a signal, an expired window, a person)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from backend.database import update_rows_by_id, utc_date
from backend.events.service import record_event
from backend.outcomes import rollup
from backend.outcomes.events import OutcomeResolved
from backend.outcomes.models import Detection, Outcome, OutcomeStatus
from backend.outcomes.rules import OUTCOME_SCALES
from backend.unit_of_work import raise_event

RESOLVED = OutcomeStatus.RESOLVED.value


class ResolvedPrediction(NamedTuple):
    """One calibrating outcome: the action's stated confidence ``p`` and the outcome value ``y``.

    ``sign`` is -1 to take a contribution back out (a corrected label). A named tuple: a batch
    makes thousands, and they cost little to build and nothing to the garbage collector."""

    organization_id: int
    agent_id: int
    action_type: str
    day: dt.date  # the day the action was taken (the prediction's day)
    p: float
    y: float
    sign: int = 1


@dataclass(eq=False, slots=True)  # identity semantics: states are collected in sets
class OutcomeState:
    """An outcome as the rules see it, with its action's stated confidence."""

    id: int
    organization_id: int
    agent_id: int
    action_id: int
    action_type: str
    outcome_type: str
    status: str
    level: int | None
    value: float | None
    due_at: dt.datetime | None
    evidence: dict[str, Any]
    confidence: float
    action_day: dt.date
    calibrates: bool
    changes: dict[str, Any] = field(default_factory=dict)
    # (status, value) as last written: what the outcome rollup counts it for until `apply`.
    written: tuple[str, float | None] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.written is None:
            self.written = (self.status, self.value)

    @property
    def is_open(self) -> bool:
        return self.status == OutcomeStatus.OPEN

    @property
    def cell(self) -> rollup.Cell:
        """Its row of the outcome rollup."""
        return rollup.Cell(
            self.organization_id,
            self.agent_id,
            self.action_day,
            self.action_type,
            self.outcome_type,
        )

    def prediction(self, value: float, sign: int = 1) -> ResolvedPrediction:
        return ResolvedPrediction(
            self.organization_id,
            self.agent_id,
            self.action_type,
            self.action_day,
            self.confidence,
            value,
            sign,
        )


def level_value(outcome_type: str, level: str | int) -> tuple[int, float]:
    """A level (label or index) on the outcome type's scale -> (index, normalised value)."""
    scale = OUTCOME_SCALES[outcome_type]
    index = scale.index(level) if isinstance(level, str) else scale.levels.index(scale.label(level))
    return index, index / (scale.size - 1)


@dataclass
class Resolutions:
    """What one unit of work decided at ``now``; `apply` writes it all with set-based
    statements."""

    now: dt.datetime
    predictions: list[ResolvedPrediction] = field(default_factory=list)
    labelling: list[OutcomeState] = field(default_factory=list)
    touched: set[OutcomeState] = field(default_factory=set)
    resolved: int = 0

    def resolve(
        self,
        outcome: OutcomeState,
        level: str | int,
        *,
        when: dt.datetime,
        detection: Detection,
        signal_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        index, value = level_value(outcome.outcome_type, level)
        if outcome.status == RESOLVED and outcome.calibrates:
            assert outcome.value is not None  # a correction takes the old contribution back
            self.predictions.append(outcome.prediction(outcome.value, sign=-1))
        outcome.status, outcome.level, outcome.value = RESOLVED, index, value
        outcome.changes.update(
            status=RESOLVED,
            level=index,
            value=value,
            detection=detection.value,
            resolved_at=when,
            signal_id=signal_id,
            resolved_by_id=user_id,
            label_reason=None,
        )
        if outcome.calibrates:
            self.predictions.append(outcome.prediction(value))
        self.touched.add(outcome)
        self.resolved += 1

    def needs_label(self, outcome: OutcomeState, reason: str, *, signal_id: int | None) -> None:
        outcome.status = OutcomeStatus.NEEDS_LABEL.value
        outcome.changes.update(
            status=outcome.status,
            detection=Detection.PENDING_LABEL.value,
            label_reason=reason[:300],
            signal_id=signal_id,
            value=None,
            level=None,
            resolved_at=None,
        )
        self.labelling.append(outcome)
        self.touched.add(outcome)

    def note(self, outcome: OutcomeState, key: str) -> None:
        outcome.evidence = {**outcome.evidence, key: int(outcome.evidence.get(key, 0)) + 1}
        outcome.changes["evidence"] = outcome.evidence
        self.touched.add(outcome)

    async def apply(self, session: AsyncSession) -> None:
        """Write the decisions and raise their events; the caller counts ``predictions`` in the
        calibration rollup in the same unit of work."""
        changed = sorted((o for o in self.touched if o.changes), key=lambda o: o.id)
        await update_rows_by_id(session, Outcome, [{"id": o.id, **o.changes} for o in changed])
        await rollup.add_changes(
            session, [(o.cell, o.written, (o.status, o.value)) for o in changed]
        )
        for outcome in changed:
            if outcome.changes.get("status") == RESOLVED:
                raise_event(
                    session,
                    OutcomeResolved(
                        organization_id=outcome.organization_id,
                        outcome_id=outcome.id,
                        action_id=outcome.action_id,
                        agent_id=outcome.agent_id,
                        action_type=outcome.action_type,
                        outcome_type=outcome.outcome_type,
                        calibrates=outcome.calibrates,
                        at=self.now,
                    ),
                )
        for outcome in self.labelling:
            await record_event(
                session,
                name="outcome.needs_label",
                organization_id=outcome.organization_id,
                stream="labels",
                data={
                    "outcomeId": outcome.id,
                    "agentId": outcome.agent_id,
                    "actionId": outcome.action_id,
                    "actionType": outcome.action_type,
                    "outcomeType": outcome.outcome_type,
                    "reason": outcome.changes.get("label_reason"),
                },
            )
        for outcome in changed:
            outcome.changes = {}
            outcome.written = (outcome.status, outcome.value)


def states_from_rows(
    rows: Iterable[Any],
    calibrating: Callable[[str], str],
    *,
    actions: Mapping[int, Any] | None = None,
) -> list[OutcomeState]:
    """Rows of `outcome_columns()` (the outcome's columns, then its action's ``confidence`` and
    ``occurred_at``) -> states. Given ``actions`` (by id, each with its ``confidence`` and
    ``occurred_at``), rows of `outcome_columns(joined=False)`, the action's values from there.
    ``calibrating`` gives the outcome type an action type's confidence is about."""
    calibrating_types: dict[str, str] = {}  # by action type: one lookup per type, not per row
    states = []
    for row in rows:
        # Unpacked by position: a row's attribute access costs far more than its tuple's.
        if actions is None:
            *outcome, confidence, action_occurred_at = row
        else:
            outcome, action = row, actions[row[3]]
            confidence, action_occurred_at = action.confidence, action.occurred_at
        (
            id_,
            organization_id,
            agent_id,
            action_id,
            action_type,
            outcome_type,
            status,
            level,
            value,
            due_at,
            evidence,
        ) = outcome
        if action_type not in calibrating_types:
            calibrating_types[action_type] = calibrating(action_type)
        state = OutcomeState(
            id_,
            organization_id,
            agent_id,
            action_id,
            action_type,
            outcome_type,
            status,
            level,
            value,
            due_at,
            evidence or {},  # a fresh dict per row; `note` replaces it, never changes it
            confidence,
            utc_date(action_occurred_at),
            calibrates=calibrating_types[action_type] == outcome_type,
        )
        states.append(state)
    return states


def outcome_columns(*, joined: bool = True) -> list[Any]:
    """The columns `states_from_rows` reads, in its order: select them joined to the outcome's
    action (or, not ``joined``, alone). Core columns, so that rows come back plain (without the
    ORM's bookkeeping)."""
    from backend.actions.models import AgentAction

    outcomes, actions = Outcome.__table__.c, AgentAction.__table__.c
    columns = [
        outcomes.id,
        outcomes.organization_id,
        outcomes.agent_id,
        outcomes.action_id,
        outcomes.action_type,
        outcomes.outcome_type,
        outcomes.status,
        outcomes.level,
        outcomes.value,
        outcomes.due_at,
        outcomes.evidence,
    ]
    if joined:
        columns += [
            actions.confidence.label("confidence"),
            actions.occurred_at.label("action_occurred_at"),
        ]
    return columns


async def open_event_born(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_id: int,
    action_id: int,
    action_type: str,
    outcome_type: str,
    at: dt.datetime,
    acted_at: dt.datetime,
) -> int:
    """Open an outcome that exists only once its event happens (e.g. a meeting's feedback), of
    an action taken at ``acted_at``; its id."""
    outcome = Outcome(
        organization_id=organization_id,
        agent_id=agent_id,
        action_id=action_id,
        action_type=action_type,
        outcome_type=outcome_type,
        window="event",
        scale=OUTCOME_SCALES[outcome_type].name,
        status=OutcomeStatus.OPEN.value,
        detection=Detection.AUTOMATIC.value,
        opened_at=at,
        due_at=None,
        evidence={},
    )
    session.add(outcome)
    await session.flush()
    cell = rollup.Cell(organization_id, agent_id, utc_date(acted_at), action_type, outcome_type)
    await rollup.add_changes(session, [(cell, None, (outcome.status, None))])
    return outcome.id
