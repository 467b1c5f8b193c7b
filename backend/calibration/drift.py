"""Following drift: each agent's change detector (``analytics_engine.drift.detect_change``) on
the residuals of its map in force, fed the same decided outcomes of matured days as its
calibration monitor, kept on the monitor's row (``CalibrationMonitorState.drift``).

When the detector fires, the agent's new self starts on the day of the estimated change: its
map is refitted on the days from then on (``load_changes`` gives the re-assessment that day and
the prior), shrunk toward its own map before the change (``drift.change_prior``). Outcomes of
the batch after the alarm are not fed: the new detector starts on the next matured day, against
the refitted map. A change older than the trailing window is forgotten with the window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.drift import (
    DEFAULT_THRESHOLD,
    MIN_FITTED,
    ChangeDetector,
    change_prior,
    detect_change,
)
from analytics_engine.pooling import GroupPrior
from analytics_engine.recalibration import RecalibrationMap
from backend.calibration.models import CalibrationMonitorState
from backend.calibration.monitors import monitor_rows, scope_key
from backend.calibration.rollup import load_stats
from backend.database import utcnow


@dataclass(frozen=True)
class Change:
    """An agent's latest change: its map is fitted on the days from ``since`` under ``prior``
    (its map before the change; ``None`` when that had no identified fit)."""

    since: dt.date
    prior: GroupPrior | None


@dataclass(frozen=True)
class DecidedDays:
    """One agent's decided outcomes in the actions' order: each one's day, ``p`` and ``y``."""

    days: Sequence[dt.date]
    p: Sequence[float]
    y: Sequence[float]


def _prior_json(prior: GroupPrior | None) -> dict[str, object] | None:
    if prior is None:
        return None
    return {"mean": prior.mean.tolist(), "between": prior.between.tolist(), "n": prior.n}


def _prior(data: Mapping[str, object] | None) -> GroupPrior | None:
    if not data:
        return None
    return GroupPrior(
        mean=np.asarray(data["mean"], dtype=np.float64),
        between=np.asarray(data["between"], dtype=np.float64),
        n_agents=1,
        n=float(data["n"]),  # type: ignore[arg-type]
        origin="past",
    )


async def load_changes(
    session: AsyncSession, *, organization_id: int, action_type: str, window_since: dt.date
) -> dict[int, Change]:
    """Every agent of the action type whose latest change is inside the trailing window (from
    ``window_since``): the day its new self starts and its prior."""
    rows = await session.scalars(
        select(CalibrationMonitorState).where(
            CalibrationMonitorState.organization_id == organization_id,
            CalibrationMonitorState.action_type == action_type,
            CalibrationMonitorState.agent_id.is_not(None),
            CalibrationMonitorState.changed_on >= window_since,
        )
    )
    return {
        row.agent_id: Change(row.changed_on, _prior(row.change_prior))
        for row in rows
        if row.agent_id is not None and row.changed_on is not None
    }


def _marks(
    start: int, days: Sequence[dt.date], earlier: list[list[str | int]]
) -> list[list[str | int]]:
    """``earlier`` ``[day, outcomes by its end]`` marks, extended with the days of a batch fed
    from outcome ``start`` on."""
    marks = list(earlier)
    for i, day in enumerate(days):
        text = day.isoformat()
        # the same day as the last mark (an earlier one: never seen) extends it
        if marks and str(marks[-1][0]) >= text:
            marks[-1][1] = start + i + 1
        else:
            marks.append([text, start + i + 1])
    return marks


def _day_of(marks: list[list[str | int]], outcome: int) -> dt.date:
    """The day of the outcome numbered ``outcome`` (0-based, since the detector started)."""
    for day, end in marks:
        if outcome < int(end):
            return dt.date.fromisoformat(str(day))
    return dt.date.fromisoformat(str(marks[-1][0]))


async def follow_drift(
    session: AsyncSession,
    *,
    organization_id: int,
    action_type: str,
    outcomes: Mapping[int, DecidedDays],
    maps: Mapping[int, RecalibrationMap],
    window_since: dt.date,
    through: dt.date,
    now: dt.datetime | None = None,
) -> dict[int, dt.date]:
    """Feed each agent's detector its outcomes, read through its map in force (fixed before
    these days), on its monitor's row (``feed_monitors`` created it, in this unit of work);
    not while that map is fitted on fewer than ``MIN_FITTED`` of the agent's outcomes.
    Returns the agents whose change was found, each with the first day of its new self."""
    found: dict[int, dt.date] = {}
    if not outcomes:
        return found
    rows = await monitor_rows(session, organization_id, action_type, map(scope_key, outcomes))
    for agent_id, decided in sorted(outcomes.items()):
        row = rows.get(scope_key(agent_id))
        if row is None or not decided.p or maps[agent_id].n < MIN_FITTED:
            continue  # a map still learning is not watched (its detector starts later)
        state = row.drift or {}
        detector = ChangeDetector.from_dict(state["detector"]) if state else ChangeDetector()
        q = maps[agent_id].apply(np.asarray(decided.p, dtype=np.float64))
        trace = detect_change(q, np.asarray(decided.y, dtype=np.float64), state=detector)
        marks = _marks(detector.n, decided.days, state.get("days", []))
        if trace.alarm is None or trace.change_point is None:
            first = min(trace.state.start)  # no bettor's run reaches back before this outcome
            keep = 0
            while keep < len(marks) - 1 and int(marks[keep][1]) <= first:
                keep += 1
            row.drift = {"detector": trace.state.to_dict(), "days": marks[keep:]}
        else:
            changed = _day_of(marks, trace.change_point)
            before_since = max(window_since, row.changed_on or window_since)
            before = await load_stats(
                session,
                organization_id=organization_id,
                action_type=action_type,
                agent_ids=[agent_id],
                since=before_since,
                until=changed - dt.timedelta(days=1),
            )
            row.change_prior = _prior_json(change_prior(before))
            row.changed_on, row.change_found_on = changed, through
            row.changes = (row.changes or 0) + 1
            row.drift = {}
            found[agent_id] = changed
        row.updated_at = now or utcnow()
    await session.flush()
    return found


@dataclass(frozen=True)
class DriftReading:
    """An agent's drift as it stands: the detector's statistic and threshold, its latest
    change (``changed_on`` the first day of its new self, ``found_on`` the matured day that
    revealed it) and how many changes so far."""

    statistic: float
    threshold: float
    changed_on: dt.date | None
    found_on: dt.date | None
    changes: int


def drift_reading(row: CalibrationMonitorState | None) -> DriftReading:
    """An agent's stored drift; a fresh detector, nothing found, where there is none yet."""
    if row is None:
        return DriftReading(ChangeDetector().statistic, DEFAULT_THRESHOLD, None, None, 0)
    detector = ChangeDetector.from_dict(row.drift["detector"]) if row.drift else ChangeDetector()
    return DriftReading(
        detector.statistic, DEFAULT_THRESHOLD, row.changed_on, row.change_found_on, row.changes
    )


async def agent_drift(
    session: AsyncSession, *, organization_id: int, action_type: str, agent_id: int
) -> DriftReading:
    """One agent's drift as it stands."""
    key = scope_key(agent_id)
    return drift_reading(
        (await monitor_rows(session, organization_id, action_type, [key])).get(key)
    )
