"""The calibration statistics rollup: atomic increments on write, sums by bin on read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.calibration import STAT_FIELDS, CalibrationStats, contribution
from backend.calibration.models import CALIBRATION_BINS, CalibrationStat
from backend.database import dialect_insert

KEY_FIELDS = ("organization_id", "agent_id", "action_type", "day", "bin")


@dataclass(frozen=True)
class ResolvedPrediction:
    """One calibrating outcome: the action's stated confidence ``p`` and the outcome value ``y``.

    ``sign`` is -1 to take a contribution back out (a corrected label)."""

    organization_id: int
    agent_id: int
    action_type: str
    day: dt.date  # the day the action was taken (the prediction's day)
    p: float
    y: float
    sign: int = 1


def _rows(predictions: Iterable[ResolvedPrediction]) -> list[dict[str, object]]:
    summed: dict[tuple[object, ...], list[float]] = {}
    for item in predictions:
        c = contribution(item.p, item.y, n_bins=CALIBRATION_BINS)
        key = (item.organization_id, item.agent_id, item.action_type, item.day, c.bin)
        totals = summed.setdefault(key, [0.0] * len(STAT_FIELDS))
        for i, name in enumerate(STAT_FIELDS):
            totals[i] += item.sign * getattr(c, name)
    # A fixed order keeps concurrent writers locking rows in the same order (no deadlocks).
    return [
        {**dict(zip(KEY_FIELDS, key, strict=True)),
         **{n: (round(v) if n == "count" else v) for n, v in zip(STAT_FIELDS, totals, strict=True)}}
        for key, totals in sorted(summed.items(), key=lambda kv: kv[0])
    ]  # fmt: skip


async def add_predictions(session: AsyncSession, predictions: Iterable[ResolvedPrediction]) -> int:
    """Add (or take back) contributions with one atomic upsert per touched row: the database
    adds to what is there, so concurrent writers never lose an increment."""
    rows = _rows(predictions)
    if not rows:
        return 0
    insert = dialect_insert(session, CalibrationStat)
    statement = insert.on_conflict_do_update(
        index_elements=list(KEY_FIELDS),
        set_={name: getattr(CalibrationStat, name) + insert.excluded[name] for name in STAT_FIELDS},
    )
    await session.execute(statement, rows)
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
        select(CalibrationStat.bin, *(func.sum(getattr(CalibrationStat, n)).label(n)
                                      for n in STAT_FIELDS))
        .where(CalibrationStat.organization_id == organization_id)
        .group_by(CalibrationStat.bin)
    )  # fmt: skip
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
