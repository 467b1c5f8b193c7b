"""Read side of calibration: a scope's report (scores, tests, curves, verdict, map in force) and
its history per day or week from one grouped query."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, DateTime, Select, cast, func, literal_column, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine import calibration as engine
from analytics_engine.recalibration import RecalibrationMap, fit_recalibration
from analytics_engine.verdict import Verdict, VerdictKind, assess
from backend.actions.models import ACTION_TYPE_PATTERN
from backend.agents.models import Agent
from backend.calibration.drift import DriftReading, agent_drift
from backend.calibration.maturity import matured_until
from backend.calibration.models import CALIBRATION_BINS, CalibrationStat
from backend.calibration.monitors import MonitorReading, monitor_reading
from backend.calibration.rollup import load_stats
from backend.calibration.service import recalibration_in_force
from backend.database import is_postgresql, utcnow
from backend.errors import DomainError, ErrorCode, NotFoundError, Problems
from backend.orgs.models import Team
from backend.scope import organization_config
from backend.viewer import Viewer, ViewerRole, scoped

DEFAULT_RANGE_DAYS = 90
MAX_RANGE_DAYS = 400


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"  # weeks start on Monday


@dataclass(frozen=True)
class CalibrationScope:
    """What a report covers: agents (None = the whole organisation), action type and days."""

    organization_id: int
    action_type: str
    since: dt.date
    until: dt.date
    agent_ids: tuple[int, ...] | None
    agent_id: int | None  # set when the scope is exactly one agent
    matured_until: dt.date  # the last day whose outcomes have all matured

    @property
    def judged_until(self) -> dt.date:
        """The last day judged: days after ``matured_until`` are still maturing (their early
        replies would read as success) and are left out."""
        return min(self.until, self.matured_until)


@dataclass(frozen=True)
class ReliabilityBin:
    """One fixed bin of the reliability curve; NaN means and a [0, 1] interval when empty."""

    lower: float
    upper: float
    count: float
    mean_confidence: float
    observed_rate: float
    wilson_lower: float
    wilson_upper: float
    jeffreys_lower: float
    jeffreys_upper: float


@dataclass(frozen=True)
class CalibrationReport:
    """Everything the engine says about a scope; the metrics are None when it has no outcomes."""

    scope: CalibrationScope
    n: float
    brier: engine.BrierDecomposition | None
    log_loss: float | None
    errors: engine.CalibrationErrors | None
    debiased: engine.DebiasedCalibrationError | None
    spiegelhalter: engine.SpiegelhalterTest | None
    observed_expected: engine.ObservedExpected | None
    hosmer_lemeshow: engine.HosmerLemeshow | None
    reliability: list[ReliabilityBin]
    corp: engine.CorpReliability | None
    verdict: Verdict
    recalibration: RecalibrationMap
    maturing: float = 0.0  # outcomes decided early on the range's days still maturing
    # One agent's or the whole organisation's anytime-valid monitor (None for a team)
    monitor: MonitorReading | None = None
    drift: DriftReading | None = None  # one agent's change detector (None for wider scopes)


@dataclass(frozen=True)
class HistoryPoint:
    """The headline numbers of one day or week (only periods with outcomes); the O/E ratio
    with its 95% interval as the verdict computes it (`engine.observed_expected`)."""

    period_start: dt.date
    n: float
    brier: float
    debiased_error: float
    ece: float
    observed_expected: float
    observed_expected_lower: float
    observed_expected_upper: float
    verdict: VerdictKind


def require_calibration_reader(viewer: Viewer) -> None:
    """People read by role; the agent's key needs read:policy, a partner's read:calibration."""
    viewer.require_scope("read:policy" if viewer.role is ViewerRole.AGENT else "read:calibration")


def date_range(
    since: dt.date | None, until: dt.date | None, *, today: dt.date
) -> tuple[dt.date, dt.date]:
    """The days asked for: by default the trailing DEFAULT_RANGE_DAYS ending today (inclusive)."""
    until = until or today
    since = since or until - dt.timedelta(days=DEFAULT_RANGE_DAYS - 1)
    problems = Problems()
    if problems.require(since <= until, "from", f"must be on or before `to` ({until})"):
        problems.require(
            (until - since).days < MAX_RANGE_DAYS,
            "from",
            f"the range may span at most {MAX_RANGE_DAYS} days, got {(until - since).days + 1}",
        )
    problems.raise_if_any()
    return since, until


def _check_action_type(action_type: str) -> str:
    if not ACTION_TYPE_PATTERN.match(action_type or ""):
        raise DomainError(
            ErrorCode.INVALID,
            "must be a lower_snake_case action type, e.g. 'email'",
            field="actionType",
        )
    return action_type


async def calibration_scope(
    session: AsyncSession,
    viewer: Viewer,
    *,
    action_type: str,
    agent_id: int | None,
    team_id: int | None,
    since: dt.date | None,
    until: dt.date | None,
    today: dt.date | None,
) -> CalibrationScope:
    """Resolve an agent, a team or (neither) everything the viewer sees. An agent or team out of
    scope is not found, exactly like one that does not exist; a rep asking for their own team
    gets their own agents only."""
    require_calibration_reader(viewer)
    _check_action_type(action_type)
    since, until = date_range(since, until, today=today or utcnow().date())
    if agent_id is not None and team_id is not None:
        raise DomainError(ErrorCode.INVALID, "give agentId or teamId, not both", field="teamId")
    agent_ids: tuple[int, ...] | None
    if agent_id is not None:
        found = await session.scalar(
            scoped(select(Agent.id), Agent, viewer).where(Agent.id == agent_id)
        )
        if found is None:
            raise NotFoundError("agent", field="agentId")
        agent_ids = (found,)
    elif team_id is not None:
        team = await session.scalar(scoped(select(Team.id), Team, viewer).where(Team.id == team_id))
        if team is None:
            raise NotFoundError("team", field="teamId")
        rows = await session.scalars(
            scoped(select(Agent.id), Agent, viewer).where(Agent.team_id == team).order_by(Agent.id)
        )
        agent_ids = tuple(rows)
    else:
        agent_ids = None if viewer.agent_ids is None else tuple(sorted(viewer.agent_ids))
    single = agent_ids[0] if agent_ids is not None and len(agent_ids) == 1 else None
    config = await organization_config(session, viewer.organization_id)
    matured = matured_until(config, action_type, today or utcnow().date())
    return CalibrationScope(
        viewer.organization_id, action_type, since, until, agent_ids, single, matured
    )


def _reliability_bins(stats: engine.CalibrationStats) -> list[ReliabilityBin]:
    # Edges as k / n_bins: exact decimals (0.3, not linspace's 0.30000000000000004).
    edges = [k / stats.n_bins for k in range(stats.n_bins + 1)]
    if stats.n > 0:
        c = engine.reliability_curve(stats)
        columns = (
            c.count,
            c.mean_confidence,
            c.observed_rate,
            c.wilson_lower,
            c.wilson_upper,
            c.jeffreys_lower,
            c.jeffreys_upper,
        )
        return [
            ReliabilityBin(lo, hi, *(float(v) for v in values))
            for lo, hi, *values in zip(edges[:-1], edges[1:], *columns, strict=True)
        ]
    nan = math.nan
    return [
        ReliabilityBin(lo, hi, 0.0, nan, nan, 0.0, 1.0, 0.0, 1.0)
        for lo, hi in itertools.pairwise(edges)
    ]


def build_report(
    scope: CalibrationScope,
    stats: engine.CalibrationStats,
    recalibration: RecalibrationMap | None,
    maturing: float = 0.0,
    monitor: MonitorReading | None = None,
    drift: DriftReading | None = None,
) -> CalibrationReport:
    """The engine's full account of ``stats`` (O(bins)); the map is fitted when not given."""
    any_data = stats.n > 0
    return CalibrationReport(
        scope=scope,
        n=stats.n,
        brier=engine.brier_decomposition(stats) if any_data else None,
        log_loss=engine.log_loss(stats) if any_data else None,
        errors=engine.calibration_errors(stats) if any_data else None,
        debiased=engine.debiased_calibration_error(stats) if any_data else None,
        spiegelhalter=engine.spiegelhalter_test(stats) if any_data else None,
        observed_expected=engine.observed_expected(stats) if any_data else None,
        hosmer_lemeshow=engine.hosmer_lemeshow(stats) if any_data else None,
        reliability=_reliability_bins(stats),
        corp=engine.corp_reliability(stats) if any_data else None,
        verdict=assess(stats),
        recalibration=recalibration if recalibration is not None else fit_recalibration(stats),
        maturing=maturing,
        monitor=monitor,
        drift=drift,
    )


async def calibration_report(
    session: AsyncSession,
    viewer: Viewer,
    *,
    action_type: str,
    agent_id: int | None = None,
    team_id: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    today: dt.date | None = None,
) -> CalibrationReport:
    """Calibration of a scope over a range. One agent reports the map its actions are really
    calibrated with (``recalibration_in_force``); a wider scope the map fitted on its own data."""
    scope = await calibration_scope(
        session,
        viewer,
        action_type=action_type,
        agent_id=agent_id,
        team_id=team_id,
        since=since,
        until=until,
        today=today,
    )
    stats = await load_stats(
        session,
        organization_id=scope.organization_id,
        action_type=scope.action_type,
        agent_ids=scope.agent_ids,
        since=scope.since,
        until=scope.judged_until,
    )
    maturing = 0.0
    if scope.until > scope.matured_until:
        early = await load_stats(
            session,
            organization_id=scope.organization_id,
            action_type=scope.action_type,
            agent_ids=scope.agent_ids,
            since=max(scope.since, scope.matured_until + dt.timedelta(days=1)),
            until=scope.until,
        )
        maturing = early.n
    recalibration = drift = None
    if scope.agent_id is not None:
        recalibration = await recalibration_in_force(
            session,
            organization_id=scope.organization_id,
            agent_id=scope.agent_id,
            action_type=scope.action_type,
        )
        drift = await agent_drift(
            session,
            organization_id=scope.organization_id,
            action_type=scope.action_type,
            agent_id=scope.agent_id,
        )
    monitor = None
    if scope.agent_id is not None or scope.agent_ids is None:
        monitor = await monitor_reading(
            session,
            organization_id=scope.organization_id,
            action_type=scope.action_type,
            agent_id=scope.agent_id,
        )
    return build_report(scope, stats, recalibration, maturing, monitor, drift)


def _period(session: AsyncSession, interval: Interval) -> Any:
    day = CalibrationStat.day
    if interval is Interval.DAY:
        return day
    # Literal SQL (not bind parameters) so the SELECT and GROUP BY expressions are identical.
    if is_postgresql(session):
        return cast(func.date_trunc(literal_column("'week'"), cast(day, DateTime)), Date)
    return type_coerce(
        func.date(day, literal_column("'weekday 0'"), literal_column("'-6 days'")), Date
    )


def _series_statement(session: AsyncSession, scope: CalibrationScope, interval: Interval) -> Select:
    period = _period(session, interval).label("period")
    statement = (
        select(
            period,
            CalibrationStat.bin,
            *(func.sum(getattr(CalibrationStat, n)).label(n) for n in engine.STAT_FIELDS),
        )
        .where(
            CalibrationStat.organization_id == scope.organization_id,
            CalibrationStat.action_type == scope.action_type,
            CalibrationStat.day >= scope.since,
            CalibrationStat.day <= scope.judged_until,
        )
        .group_by(period, CalibrationStat.bin)
        .order_by(period, CalibrationStat.bin)
    )
    if scope.agent_ids is not None:
        statement = statement.where(CalibrationStat.agent_id.in_(scope.agent_ids))
    return statement


async def period_stats(
    session: AsyncSession, scope: CalibrationScope, interval: Interval
) -> list[tuple[dt.date, engine.CalibrationStats]]:
    """The statistics of every day or week of the scope that has outcomes: ONE grouped query
    (``GROUP BY period, bin``), split by period in memory."""
    rows = (await session.execute(_series_statement(session, scope, interval))).mappings().all()
    series = []
    for period, group in itertools.groupby(rows, key=lambda row: row["period"]):
        stats = engine.CalibrationStats.from_rows(
            [
                {k: (v if k == "bin" else v or 0.0) for k, v in row.items() if k != "period"}
                for row in group
            ],
            n_bins=CALIBRATION_BINS,
        )
        if stats.n > 0:
            start = period if isinstance(period, dt.date) else dt.date.fromisoformat(str(period))
            series.append((start, stats))
    return series


async def calibration_history(
    session: AsyncSession,
    viewer: Viewer,
    *,
    action_type: str,
    interval: Interval,
    agent_id: int | None = None,
    team_id: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    today: dt.date | None = None,
) -> list[HistoryPoint]:
    """Headline numbers per day or week, oldest first, for trend charts."""
    scope = await calibration_scope(
        session,
        viewer,
        action_type=action_type,
        agent_id=agent_id,
        team_id=team_id,
        since=since,
        until=until,
        today=today,
    )
    points = []
    for start, stats in await period_stats(session, scope, interval):
        verdict = assess(stats)
        points.append(
            HistoryPoint(
                period_start=start,
                n=stats.n,
                brier=engine.brier_decomposition(stats).brier,
                debiased_error=verdict.debiased_error,
                ece=engine.calibration_errors(stats).ece,
                observed_expected=verdict.observed_expected,
                observed_expected_lower=verdict.oe_lower,
                observed_expected_upper=verdict.oe_upper,
                verdict=verdict.kind,
            )
        )
    return points
