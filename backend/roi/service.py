"""Use cases of the ROI assumptions: what holds on a day (each with where it comes from), a
change (a new version, audited: who, when, why, from which day), and the history.

Executives and admins change them (people, or API keys with ``write:analytics``); whoever reads
a dashboard reads them. An assumption no one has set comes from the team's human baseline
(hourly cost, minutes per task) or from the defaults below, and says so.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.roi import Span
from backend.actions.models import ACTION_TYPE_PATTERN
from backend.errors import DomainError, ErrorCode, PermissionDeniedError
from backend.roi.models import EVERY_ACTION_TYPE, AssumptionName, RoiAssumption
from backend.viewer import Viewer, ViewerRole, scoped

# Where an assumption in force comes from.
SET = "set"  # a change someone made (its version, author and reason are kept)
BASELINE = "human_baseline"  # the team's human baseline (hourly cost, minutes per task)
DEFAULT = "default"  # this module's default: shown so that it is seen, and changed

# Defaults for what nothing else gives: industry rules of thumb, shown with the result as
# "default" so that nobody mistakes them for the organisation's own figures.
DEFAULTS: Mapping[AssumptionName, Span] = {
    AssumptionName.MINUTES_PER_ESCALATION: Span(5, 10, 20),
    AssumptionName.MINUTES_PER_PROMPT: Span(0.5, 1, 2),
    AssumptionName.MINUTES_PER_REVIEW: Span(3, 5, 10),
    AssumptionName.MINUTES_PER_LABEL: Span(1, 2, 4),
    AssumptionName.WORKING_HOURS_PER_WEEK: Span(35, 40, 45),
    AssumptionName.PLATFORM_COST_PER_ACTION: Span(0, 0, 0),
    AssumptionName.VALUE_PER_SUCCESS: Span(0, 0, 0),
}
# The assumptions that may be set per action type (the others hold for every type).
PER_ACTION_TYPE = frozenset({AssumptionName.MINUTES_PER_TASK, AssumptionName.VALUE_PER_SUCCESS})
EDITORS = (ViewerRole.EXECUTIVE, ViewerRole.ADMIN)
MAX_CHANGES = 100


@dataclass(frozen=True)
class Assumption:
    """One assumption in force: its range, and where it comes from (``SET``: the change's
    version, day it took effect, author and reason)."""

    name: str
    action_type: str
    span: Span
    source: str
    version: int | None = None
    effective_from: dt.date | None = None
    reason: str | None = None
    changed_by_id: int | None = None
    changed_at: dt.datetime | None = None


@dataclass(frozen=True)
class Assumptions:
    """The organisation's set assumptions in force on a day, by (name, action type)."""

    day: dt.date
    rows: Mapping[tuple[str, str], Assumption]

    def get(self, name: AssumptionName, action_type: str = EVERY_ACTION_TYPE) -> Assumption | None:
        """The assumption set for the action type, else for every type; None if not set."""
        return self.rows.get((name.value, action_type)) or self.rows.get(
            (name.value, EVERY_ACTION_TYPE)
        )

    def resolve(
        self,
        name: AssumptionName,
        action_type: str = EVERY_ACTION_TYPE,
        *,
        baseline: float | None = None,
    ) -> Assumption:
        """What holds: the set assumption, else the human baseline's figure (one value, no
        range), else the default; an assumption with none of these holds 0 (its source says
        ``default``)."""
        found = self.get(name, action_type)
        if found is not None:
            return found
        if baseline is not None and math.isfinite(baseline):
            return Assumption(name.value, action_type, Span.exactly(baseline), BASELINE)
        return Assumption(name.value, action_type, DEFAULTS.get(name, Span(0, 0, 0)), DEFAULT)


@dataclass(frozen=True)
class AssumptionChange:
    """One assumption to set: its name, the action type it is for (None: every type), and its
    low / expected / high values."""

    name: str
    low: float
    expected: float
    high: float
    action_type: str | None = None


def _assumption(row: RoiAssumption) -> Assumption:
    return Assumption(
        row.name,
        row.action_type,
        Span(row.low, row.expected, row.high),
        SET,
        row.version,
        row.effective_from,
        row.reason,
        row.changed_by_id,
        row.created_at,
    )


def in_force(rows: Iterable[RoiAssumption], day: dt.date) -> Assumptions:
    """Per (name, action type): the row with the latest ``effective_from`` on or before ``day``,
    the latest version among equals."""
    best: dict[tuple[str, str], RoiAssumption] = {}
    for row in rows:
        if row.effective_from > day:
            continue
        key = (row.name, row.action_type)
        held = best.get(key)
        if held is None or (row.effective_from, row.version) > (held.effective_from, held.version):
            best[key] = row
    return Assumptions(day, {k: _assumption(r) for k, r in best.items()})


async def assumptions_in_force(
    session: AsyncSession, organization_id: int, day: dt.date
) -> Assumptions:
    """The organisation's assumptions in force on ``day`` (one statement). Internal: callers
    have already checked that their viewer may read the organisation's dashboards."""
    rows = await session.scalars(
        select(RoiAssumption).where(
            RoiAssumption.organization_id == organization_id,
            RoiAssumption.effective_from <= day,
        )
    )
    return in_force(rows, day)


def _problems(change: AssumptionChange, index: int) -> list[tuple[str, str]]:
    at = f"changes[{index}]"
    names = ", ".join(n.value for n in AssumptionName)
    try:
        name = AssumptionName(change.name)
    except ValueError:
        return [(f"{at}.name", f"unknown assumption {change.name!r}; known: {names}")]
    problems = []
    if change.action_type is not None:
        if name not in PER_ACTION_TYPE:
            problems.append(
                (f"{at}.actionType", f"{name.value} holds for every action type; leave it out")
            )
        elif not ACTION_TYPE_PATTERN.fullmatch(change.action_type):
            problems.append((f"{at}.actionType", f"{change.action_type!r} is not an action type"))
    values = (change.low, change.expected, change.high)
    for key, value in zip(("low", "expected", "high"), values, strict=True):
        if not math.isfinite(value) or value < 0:
            problems.append((f"{at}.{key}", f"must be a finite number >= 0, got {value!r}"))
    if not problems and not change.low <= change.expected <= change.high:
        problems.append((f"{at}.expected", "needs low <= expected <= high"))
    if name is AssumptionName.WORKING_HOURS_PER_WEEK and change.high > 168:
        problems.append((f"{at}.high", "a week has 168 hours"))
    return problems


async def set_assumptions(
    session: AsyncSession,
    viewer: Viewer,
    changes: Sequence[AssumptionChange],
    *,
    effective_from: dt.date,
    reason: str,
    now: dt.datetime,
) -> list[Assumption]:
    """Set assumptions from ``effective_from`` on, as one new version (audited: the viewer,
    ``now`` and ``reason``). Everything is checked first: one bad change refuses them all."""
    viewer.require_scope("write:analytics")
    if viewer.role not in EDITORS:
        raise PermissionDeniedError("only executives and admins change the ROI assumptions")
    reason = reason.strip()
    if not reason:
        raise DomainError(ErrorCode.REQUIRED, "say why the assumptions change", field="reason")
    if len(reason) > 500:
        raise DomainError(ErrorCode.INVALID, "at most 500 characters", field="reason")
    if not changes:
        raise DomainError(ErrorCode.REQUIRED, "name at least one assumption", field="changes")
    if len(changes) > MAX_CHANGES:
        raise DomainError(
            ErrorCode.INVALID, f"at most {MAX_CHANGES} changes at once", field="changes"
        )
    seen: set[tuple[str, str]] = set()
    for i, change in enumerate(changes):
        problems = _problems(change, i)
        if problems:
            field, message = problems[0]
            raise DomainError(ErrorCode.INVALID, message, field=field)
        key = (change.name, change.action_type or EVERY_ACTION_TYPE)
        if key in seen:
            raise DomainError(
                ErrorCode.INVALID, f"{key[0]} for {key[1]} is named twice", field=f"changes[{i}]"
            )
        seen.add(key)
    # The next version of the organisation's assumptions; a concurrent change taking the same
    # number fails on the unique key (a conflict to retry), never overwrites.
    latest = await session.scalar(
        select(func.max(RoiAssumption.version)).where(
            RoiAssumption.organization_id == viewer.organization_id
        )
    )
    version = (latest or 0) + 1
    rows = [
        RoiAssumption(
            organization_id=viewer.organization_id,
            name=c.name,
            action_type=c.action_type or EVERY_ACTION_TYPE,
            low=float(c.low),
            expected=float(c.expected),
            high=float(c.high),
            effective_from=effective_from,
            version=version,
            reason=reason,
            changed_by_id=viewer.user_id,
            api_client_id=viewer.api_client_id,
            created_at=now,
        )
        for c in changes
    ]
    session.add_all(rows)
    await session.flush()
    return [_assumption(r) for r in rows]


async def assumption_history(
    session: AsyncSession, viewer: Viewer, *, limit: int = 200
) -> list[Assumption]:
    """Every change, newest version first: the audit trail (dashboard readers)."""
    viewer.require_scope("read:analytics")
    if viewer.role in (ViewerRole.AGENT, ViewerRole.REP):
        raise PermissionDeniedError("the ROI assumptions are for managers and above")
    statement = scoped(select(RoiAssumption), RoiAssumption, viewer).order_by(
        RoiAssumption.version.desc(), RoiAssumption.name, RoiAssumption.action_type
    )
    return [_assumption(r) for r in await session.scalars(statement.limit(limit))]
