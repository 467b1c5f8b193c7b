"""The calibration statistics rollups (per agent, and per team for organisation-wide reads):
atomic increments on write, sums by bin on read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Delete, Insert, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.calibration import STAT_FIELDS, CalibrationStats
from backend.agents.models import Agent
from backend.calibration.models import CALIBRATION_BINS, CalibrationStat, CalibrationTeamStat
from backend.database import insert_rows
from backend.outcomes.resolution import ResolvedPrediction

KEY_FIELDS = ("organization_id", "agent_id", "action_type", "day", "bin")
TEAM_KEY_FIELDS = ("organization_id", "team_id", "action_type", "day", "bin")


def _rows(predictions: Iterable[ResolvedPrediction]) -> list[dict[str, Any]]:
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


async def _team_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` summed per team of their agents (one lookup of the agents' teams)."""
    agents = sorted({r["agent_id"] for r in rows})
    found = await session.execute(select(Agent.id, Agent.team_id).where(Agent.id.in_(agents)))
    team_of: dict[Any, int] = {agent: team for agent, team in found}
    sums: dict[tuple[Any, ...], np.ndarray] = {}
    for r in rows:
        key = (r["organization_id"], team_of[r["agent_id"]], r["action_type"], r["day"], r["bin"])
        values = np.array([r[name] for name in STAT_FIELDS], dtype=float)
        sums[key] = sums[key] + values if key in sums else values
    out: list[dict[str, Any]] = []
    for key in sorted(sums):  # the same fixed order as the agent rows: no deadlocks
        row: dict[str, Any] = dict(zip(STAT_FIELDS, sums[key].tolist(), strict=True))
        row["count"] = round(row["count"])
        out.append({**dict(zip(TEAM_KEY_FIELDS, key, strict=True)), **row})
    return out


async def add_predictions(session: AsyncSession, predictions: Iterable[ResolvedPrediction]) -> int:
    """Add (or take back) contributions with one atomic upsert per touched row of the agent
    rollup and of the team rollup: the database adds to what is there, so concurrent writers
    never lose an increment."""
    rows = _rows(predictions)
    await insert_rows(session, CalibrationStat, rows, conflict=KEY_FIELDS, add=STAT_FIELDS)
    teams = await _team_rows(session, rows) if rows else []
    await insert_rows(
        session, CalibrationTeamStat, teams, conflict=TEAM_KEY_FIELDS, add=STAT_FIELDS
    )
    return len(rows)


def rebuild_teams(_dialect: str) -> tuple[Delete, Insert]:
    """The statements that recount the team rollup from ``calibration_stats`` (each agent's
    rows to its team), on any database."""
    c = CalibrationStat
    sums = (
        select(
            c.organization_id,
            Agent.team_id,
            c.day,
            c.action_type,
            c.bin,
            *(func.sum(getattr(c, name)) for name in STAT_FIELDS),
        )
        .join(Agent, Agent.id == c.agent_id)
        .group_by(c.organization_id, Agent.team_id, c.day, c.action_type, c.bin)
    )
    columns = ["organization_id", "team_id", "day", "action_type", "bin", *STAT_FIELDS]
    return delete(CalibrationTeamStat), insert(CalibrationTeamStat).from_select(columns, sums)


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


async def load_agents_stats(
    session: AsyncSession,
    *,
    organization_id: int,
    action_type: str,
    since: dt.date,
    until: dt.date,
    since_by_agent: Mapping[int, dt.date] | None = None,
) -> dict[int, CalibrationStats]:
    """Every agent's statistics of ``action_type`` over the days, from ONE grouped query
    (``GROUP BY agent_id, bin``): the siblings that pooling shrinks an agent's map toward.
    ``since_by_agent`` starts some agents later (after a change: ``calibration.drift``)."""
    c = CalibrationStat
    starts = {a: max(since, day) for a, day in (since_by_agent or {}).items() if day > since}
    first = case(starts, value=c.agent_id, else_=since) if starts else since
    statement = (
        select(c.agent_id, c.bin, *(func.sum(getattr(c, n)).label(n) for n in STAT_FIELDS))
        .where(
            c.organization_id == organization_id,
            c.action_type == action_type,
            c.day >= first,
            c.day <= until,
        )
        .group_by(c.agent_id, c.bin)
        .order_by(c.agent_id, c.bin)
    )
    rows = (await session.execute(statement)).all()
    if not rows:
        return {}
    table = np.array([row[2:] for row in rows], dtype=float)
    np.nan_to_num(table, copy=False)  # SUM of nothing is NULL
    agents = np.array([row[0] for row in rows])
    bins = np.array([row[1] for row in rows], dtype=np.intp)
    out = {}
    for agent in np.unique(agents).tolist():
        mine = agents == agent
        sums = np.zeros((len(STAT_FIELDS), CALIBRATION_BINS))
        sums[:, bins[mine]] = table[mine].T
        out[int(agent)] = CalibrationStats(sums)
    return out
