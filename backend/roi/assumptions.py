"""The ROI assumptions in force on a day, each with where it comes from: set by someone (its
version, first day, author and reason), the team's human baseline, or a default. The read side,
for whoever computes an ROI (the dashboards, the strategic view)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.roi import Span
from backend.roi.models import EVERY_ACTION_TYPE, AssumptionName, RoiAssumption

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


def to_assumption(row: RoiAssumption) -> Assumption:
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
    return Assumptions(day, {k: to_assumption(r) for k, r in best.items()})


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
