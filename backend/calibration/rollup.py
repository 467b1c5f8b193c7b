"""The calibration statistics rollup: atomic increments on write, sums by bin on read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.calibration import STAT_FIELDS, CalibrationStats
from backend.calibration.models import CALIBRATION_BINS, CalibrationStat
from backend.database import insert_rows
from backend.outcomes.resolution import ResolvedPrediction

KEY_FIELDS = ("organization_id", "agent_id", "action_type", "day", "bin")


def _rows(predictions: Iterable[ResolvedPrediction]) -> list[dict[str, object]]:
    """One row of summed contributions per touched (organisation, agent, action type, day, bin).

    Each (row key, sign) sums its predictions in a ``CalibrationStats`` (``add`` is the same
    arithmetic as ``contribution``, a few microseconds each); corrections are taken back."""
    groups: dict[tuple[int, int, str, dt.date], dict[int, CalibrationStats]] = {}
    for item in predictions:
        key = (item.organization_id, item.agent_id, item.action_type, item.day)
        by_sign = groups.setdefault(key, {})
        stats = by_sign.get(item.sign)
        if stats is None:
            stats = by_sign[item.sign] = CalibrationStats.empty(CALIBRATION_BINS)
        stats.add(item.p, item.y)
    rows = []
    # A fixed order keeps concurrent writers locking rows in the same order (no deadlocks).
    for key in sorted(groups):
        totals = np.zeros((len(STAT_FIELDS), CALIBRATION_BINS))
        touched = np.zeros(CALIBRATION_BINS, dtype=bool)
        for sign, stats in groups[key].items():
            totals += sign * np.stack([stats.field(name) for name in STAT_FIELDS])
            touched |= stats.count > 0
        for b in np.flatnonzero(touched).tolist():
            sums = dict(zip(STAT_FIELDS, totals[:, b].tolist(), strict=True))
            sums["count"] = round(sums["count"])
            rows.append({**dict(zip(KEY_FIELDS, (*key, b), strict=True)), **sums})
    return rows


async def add_predictions(session: AsyncSession, predictions: Iterable[ResolvedPrediction]) -> int:
    """Add (or take back) contributions with one atomic upsert per touched row: the database
    adds to what is there, so concurrent writers never lose an increment."""
    rows = _rows(predictions)
    await insert_rows(session, CalibrationStat, rows, conflict=KEY_FIELDS, add=STAT_FIELDS)
    return len(rows)


async def load_stats(
    session: AsyncSession,
    *,
    organization_id: int,
    action_type: str | None,
    agent_ids: Sequence[int] | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> CalibrationStats:
    """Sum the rollup over a scope (agents, or the whole organisation when None) and days."""
    statement = (
        select(
            CalibrationStat.bin,
            *(func.sum(getattr(CalibrationStat, n)).label(n) for n in STAT_FIELDS),
        )
        .where(CalibrationStat.organization_id == organization_id)
        .group_by(CalibrationStat.bin)
    )
    if action_type is not None:
        statement = statement.where(CalibrationStat.action_type == action_type)
    if agent_ids is not None:
        statement = statement.where(CalibrationStat.agent_id.in_(sorted(agent_ids)))
    if since is not None:
        statement = statement.where(CalibrationStat.day >= since)
    if until is not None:
        statement = statement.where(CalibrationStat.day <= until)
    rows = (await session.execute(statement)).mappings().all()
    return CalibrationStats.from_rows(
        [{k: (v if k == "bin" else v or 0.0) for k, v in row.items()} for row in rows],
        n_bins=CALIBRATION_BINS,
    )
