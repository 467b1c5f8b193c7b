"""Use cases of the strategic view: per action type what the agent does and is worth with a
recommendation (expand autonomy, hold, pull back), the "what if" of an autonomy threshold, and
a deal's win probability beside the model's reliability on closed deals.

The view composes the read sides of analytics (the executive dashboard: volumes, lift over the
human baseline, calibration verdicts, ROI per type), calibration (the rollup per bin and the
recalibration maps), policy (each agent's thresholds and targets) and ROI (the assumptions);
it owns no table and writes nothing. Projections read only days whose calibrating outcomes
have all matured (``OutcomeRules.last_matured_day``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.recalibration import RecalibrationMap, fit_recalibration
from analytics_engine.roi import RateEstimate, RoiRange, Span, rate_estimate
from analytics_engine.strategy import (
    Estimate,
    ProjectionValue,
    Recommendation,
    ThresholdProjection,
    WhatIf,
    WinModel,
    WinReliability,
    WorkAssumptions,
    change_value,
    cross_validated_reliability,
    fit_win_model,
    projection_value,
    recommend,
    what_if,
    win_probability,
)
from backend.actions.models import ACTION_TYPE_PATTERN
from backend.analytics.metrics import ActionTypeRate, CalibrationAccuracy, Metrics
from backend.analytics.service import ExecutiveDashboard, executive_dashboard
from backend.calibration.maturity import matured_until
from backend.calibration.rollup import load_stats
from backend.calibration.service import recalibration_in_force
from backend.database import Reads, utcnow
from backend.errors import DomainError, ErrorCode, NotFoundError, PermissionDeniedError
from backend.outcomes.rules import PIPELINE
from backend.policy.service import policy_defaults
from backend.roi.assumptions import Assumption, Assumptions, assumptions_in_force
from backend.roi.models import AssumptionName
from backend.scope import DateRange, organization_config
from backend.strategy import repository as repo
from backend.strategy.wording import reason
from backend.viewer import Viewer, ViewerRole

STAGE_PROGRESSION = "stage_progression"


def require_strategist(viewer: Viewer) -> None:
    """Executives, admins and partners with ``read:analytics`` (as the executive dashboard)."""
    if viewer.role is ViewerRole.AGENT:
        raise PermissionDeniedError("agent keys do not read the strategic view")
    viewer.require_scope("read:analytics")
    viewer.require_role(ViewerRole.EXECUTIVE, ViewerRole.ADMIN, ViewerRole.PARTNER)


# -- the per-type evidence ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cells:
    """One action type's (agent, bin) cells over its matured days, as the engine takes them."""

    matured_until: dt.date
    confidence: np.ndarray  # mean raw confidence of the cell
    calibrated: np.ndarray  # through the map fitted on the type's matured outcomes
    count: np.ndarray
    successes: np.ndarray
    escalate_below: np.ndarray  # each cell's agent's current thresholds
    autonomous_above: np.ndarray
    recalibration: RecalibrationMap


async def _cells(
    session: AsyncSession,
    viewer: Viewer,
    *,
    action_type: str,
    days: DateRange,
    today: dt.date,
    config: dict[str, object],
) -> Cells:
    matured = min(days.until, matured_until(config, action_type, today))
    cells: list[repo.Cell] = []
    recalibration = RecalibrationMap.identity()
    if matured >= days.since:
        cells = await repo.calibration_cells(
            session, viewer, action_type=action_type, since=days.since, until=matured
        )
        stats = await load_stats(
            session,
            organization_id=viewer.organization_id,
            action_type=action_type,
            agent_ids=None if viewer.agent_ids is None else sorted(viewer.agent_ids),
            since=days.since,
            until=matured,
        )
        recalibration = fit_recalibration(stats)
    policies = await repo.policy_thresholds(session, viewer, action_type=action_type)
    default = policy_defaults(action_type, config).thresholds
    count = np.array([c.count for c in cells], dtype=float)
    confidence = np.clip(np.array([c.sum_p / c.count for c in cells], dtype=float), 0.0, 1.0)
    thresholds = [
        policies.get(c.agent_id, (default.escalate_below, default.autonomous_above)) for c in cells
    ]
    return Cells(
        matured_until=matured,
        confidence=confidence,
        calibrated=recalibration.apply(confidence) if cells else np.zeros(0),
        count=count,
        successes=np.array([min(c.sum_y, c.count) for c in cells], dtype=float),
        escalate_below=np.array([t[0] for t in thresholds], dtype=float),
        autonomous_above=np.array([t[1] for t in thresholds], dtype=float),
        recalibration=recalibration,
    )


def _projection(cells: Cells, volume: float, autonomy: float, escalation: float | None) -> WhatIf:
    return what_if(
        confidence=cells.confidence,
        calibrated=cells.calibrated,
        count=cells.count,
        current_autonomous_above=cells.autonomous_above,
        current_escalate_below=cells.escalate_below,
        autonomous_above=autonomy,
        escalate_below=escalation,
        volume=volume,
    )


def _escalated_success(cells: Cells) -> RateEstimate:
    """The observed success of the matured actions the current thresholds escalate."""
    band = cells.confidence < cells.escalate_below
    return rate_estimate(float(cells.successes[band].sum()), float(cells.count[band].sum()))


def _estimate(r: RateEstimate) -> Estimate:
    return Estimate(r.rate, r.lower, r.upper)


# -- the strategic view ------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionTypeStrategy:
    """One action type: volume, lift, calibration, escalation appropriateness, value and cost,
    and the recommendation with its reasons."""

    action_type: str
    range: DateRange  # the days this type is judged on: as long as asked, all matured
    actions: int
    escalations: int
    rate: ActionTypeRate | None  # agent vs human on matured outcomes (None: no outcomes)
    calibration: CalibrationAccuracy | None
    matured_until: dt.date  # the projection reads the range's days up to this one
    decided: float  # decided outcomes of those days behind the projection
    current: ThresholdProjection  # the current thresholds over the range's actions
    escalated_success: RateEstimate
    escalation_target: float  # escalate when the success would be at most this
    max_error_rate: float  # 1 - the policy's autonomous success target
    roi: RoiRange | None  # value, cost and hours of the type (the dashboard's ROI)
    recommendation: Recommendation
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class StrategicView:
    organization_id: int
    range: DateRange
    currency: str
    action_types: tuple[ActionTypeStrategy, ...]
    assumptions: tuple[Assumption, ...]  # every assumption behind the money figures
    note: str | None


def _types(metrics: Metrics) -> list[str]:
    found = {a.action_type for a in metrics.actions_by_type}
    found |= {c.action_type for c in metrics.calibration}
    return sorted(t for t in found if ACTION_TYPE_PATTERN.match(t))


def _lift(rate: ActionTypeRate | None) -> tuple[float, float, float] | None:
    c = rate.versus_human if rate is not None else None
    if c is None or math.isnan(c.difference):
        return None
    return (c.difference_lower, c.difference, c.difference_upper)


async def strategic_view(
    reads: Reads,
    viewer: Viewer,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    today: dt.date | None = None,
) -> StrategicView:
    """Per action type of the organisation: what the agent did and is worth, and whether to
    expand its autonomy, hold or pull back, with the reasons in numbers."""
    require_strategist(viewer)
    today = today or utcnow().date()
    board = await executive_dashboard(reads, viewer, since=since, until=until, today=today)
    async with reads() as session:
        config = await organization_config(session, viewer.organization_id)
    span = board.range.until - board.range.since
    # Each type is judged on a range as long as the one asked for, ending on its last matured
    # day: a type whose outcomes take 30 days to decide is judged on the 30 days before those
    # still maturing, never on days without a decided outcome.
    boards: dict[dt.date, ExecutiveDashboard] = {board.range.until: board}
    judged: dict[str, ExecutiveDashboard] = {}
    for t in _types(board.metrics):
        end = min(board.range.until, matured_until(config, t, today))
        if end not in boards:
            boards[end] = await executive_dashboard(
                reads, viewer, since=end - span, until=end, today=today
            )
        judged[t] = boards[end]
    rows = []
    async with reads() as session:
        for t, own in judged.items():
            metrics = own.metrics
            a = next((x for x in metrics.actions_by_type if x.action_type == t), None)
            rate = next((x for x in metrics.rates_by_action_type if x.action_type == t), None)
            accuracy = next((x for x in metrics.calibration if x.action_type == t), None)
            roi = next((x.range for x in metrics.roi.by_action_type if x.action_type == t), None)
            cells = await _cells(
                session, viewer, action_type=t, days=own.range, today=today, config=config
            )
            volume = float(a.actions) if a is not None else 0.0
            target = policy_defaults(t, config).target
            current = _projection(cells, volume, 1.0, None).current
            escalated = _escalated_success(cells)
            verdict = accuracy.verdict if accuracy is not None else "insufficient_data"
            max_error = 1.0 - target.autonomous_min_success
            advice = recommend(
                verdict=verdict,
                lift=_lift(rate),
                error_rate=current.error_rate,
                max_error_rate=max_error,
                escalated_success=_estimate(escalated) if escalated.count else None,
                escalation_max_success=target.escalate_max_success,
            )
            rows.append(
                ActionTypeStrategy(
                    action_type=t,
                    range=own.range,
                    actions=a.actions if a is not None else 0,
                    escalations=a.escalations if a is not None else 0,
                    rate=rate,
                    calibration=accuracy,
                    matured_until=cells.matured_until,
                    decided=float(cells.count.sum()),
                    current=current,
                    escalated_success=escalated,
                    escalation_target=target.escalate_max_success,
                    max_error_rate=max_error,
                    roi=roi,
                    recommendation=advice,
                    reasons=tuple(reason(e) for e in advice.evidence),
                )
            )
    metrics = board.metrics
    return StrategicView(
        viewer.organization_id,
        board.range,
        board.currency,
        tuple(rows),
        metrics.roi.assumptions,
        metrics.roi.note,
    )


# -- what if -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIfView:
    """A policy change projected over the range's actions of one type, from the calibrated
    probabilities of its matured outcomes; money and hours at the assumptions' ends."""

    action_type: str
    range: DateRange
    currency: str
    matured_until: dt.date
    decided: float
    actions: int  # the range's actions the projection is for
    autonomy_threshold: float
    escalation_threshold: float | None  # None: each agent's own, lowered to the autonomy one
    calibrated_at_threshold: float  # the calibrated success at the autonomy threshold
    recalibration_method: str
    projection: WhatIf
    current_value: ProjectionValue
    proposed_value: ProjectionValue
    change_value: ProjectionValue
    assumptions: tuple[Assumption, ...]


def _check_threshold(value: float, field: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and 0.0 <= value <= 1.0):
        raise DomainError(ErrorCode.INVALID, f"must lie in [0, 1], got {value!r}", field=field)


def _work_assumptions(
    board: ExecutiveDashboard, assumptions: Assumptions, action_type: str
) -> tuple[WorkAssumptions, tuple[Assumption, ...]]:
    """What the dashboard's ROI used (the human baseline's figures included), else what is in
    force (set, else default)."""
    used = {(a.name, a.action_type): a for a in board.metrics.roi.assumptions}
    rates = {r.action_type: r for r in board.metrics.rates_by_action_type}
    baseline_minutes = rates[action_type].human_minutes_per_task if action_type in rates else None

    def take(name: AssumptionName, per_type: bool) -> Assumption:
        for key in ((name.value, action_type), (name.value, "*")):
            if key in used and (per_type or key[1] == "*"):
                return used[key]
        return assumptions.resolve(
            name,
            action_type if per_type else "*",
            baseline=baseline_minutes if name is AssumptionName.MINUTES_PER_TASK else None,
        )

    chosen = (
        take(AssumptionName.MINUTES_PER_TASK, True),
        take(AssumptionName.MINUTES_PER_ESCALATION, False),
        take(AssumptionName.MINUTES_PER_REVIEW, False),
        take(AssumptionName.LOADED_HOURLY_COST, False),
        take(AssumptionName.VALUE_PER_SUCCESS, True),
    )
    spans: Sequence[Span] = [a.span for a in chosen]
    return WorkAssumptions(*spans), chosen


async def what_if_view(
    reads: Reads,
    viewer: Viewer,
    *,
    action_type: str,
    autonomy_threshold: float,
    escalation_threshold: float | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    today: dt.date | None = None,
) -> WhatIfView:
    """The projected escalations, errors, hours and value of one action type if the autonomy
    threshold (raw confidence, as policies hold it) moved to ``autonomy_threshold`` for every
    agent, against each agent's current thresholds."""
    require_strategist(viewer)
    if not ACTION_TYPE_PATTERN.match(action_type or ""):
        raise DomainError(
            ErrorCode.INVALID,
            "must be a lower_snake_case action type, e.g. 'email'",
            field="actionType",
        )
    _check_threshold(autonomy_threshold, "autonomyThreshold")
    if escalation_threshold is not None:
        _check_threshold(escalation_threshold, "escalationThreshold")
        if escalation_threshold > autonomy_threshold:
            raise DomainError(
                ErrorCode.INVALID,
                f"must not exceed the autonomy threshold ({autonomy_threshold:g})",
                field="escalationThreshold",
            )
    today = today or utcnow().date()
    board = await executive_dashboard(reads, viewer, since=since, until=until, today=today)
    if action_type not in _types(board.metrics):
        raise NotFoundError("action type", field="actionType")
    activity = {a.action_type: a.actions for a in board.metrics.actions_by_type}
    async with reads() as session:
        config = await organization_config(session, viewer.organization_id)
        cells = await _cells(
            session,
            viewer,
            action_type=action_type,
            days=board.range,
            today=today,
            config=config,
        )
        assumptions = await assumptions_in_force(session, viewer.organization_id, board.range.until)
    actions = activity.get(action_type, 0)
    projected = _projection(cells, float(actions), autonomy_threshold, escalation_threshold)
    work, used = _work_assumptions(board, assumptions, action_type)
    return WhatIfView(
        action_type=action_type,
        range=board.range,
        currency=board.currency,
        matured_until=cells.matured_until,
        decided=float(cells.count.sum()),
        actions=actions,
        autonomy_threshold=autonomy_threshold,
        escalation_threshold=escalation_threshold,
        calibrated_at_threshold=float(cells.recalibration.apply(autonomy_threshold)),
        recalibration_method=cells.recalibration.method,
        projection=projected,
        current_value=projection_value(projected.current, work),
        proposed_value=projection_value(projected.proposed, work),
        change_value=change_value(projected, work),
        assumptions=used,
    )


# -- deal win probability ----------------------------------------------------------------------


@dataclass(frozen=True)
class DealWinProbability:
    """A deal's win probability with its interval, what it rests on, and the model's
    reliability on the closed deals the viewer may see (cross-validated)."""

    deal_id: int
    stage: str
    stage_reached: str  # the furthest pipeline stage: the model's stage input
    raw_confidence: float | None  # the latest stage-progression action's
    calibrated_confidence: float | None  # through its agent's recalibration map in force
    probability: Estimate | None  # None for a closed deal: its outcome is known
    method: str | None  # "logistic" or "stage_rate"
    reliability: WinModelReliability


@dataclass(frozen=True)
class WinModelReliability:
    closed_deals: int
    won_deals: int
    method: str  # what the model fitted on all of them is
    reliability: WinReliability


def _require_deal_reader(viewer: Viewer) -> None:
    if viewer.role is ViewerRole.AGENT:
        raise PermissionDeniedError("agent keys do not read win probabilities")
    viewer.require_scope("read:analytics")


def _reached(history: repo.DealHistory) -> int:
    index = PIPELINE.index(history.stage) if history.stage in PIPELINE else 0
    moved = PIPELINE.index(history.furthest) if history.furthest is not None else 0
    return max(index, moved)


async def _calibrated(
    session: AsyncSession, viewer: Viewer, histories: Sequence[repo.DealHistory]
) -> dict[int, float]:
    maps: dict[int, RecalibrationMap] = {}
    for agent in sorted({h.agent_id for h in histories if h.agent_id is not None}):
        maps[agent] = await recalibration_in_force(
            session,
            organization_id=viewer.organization_id,
            agent_id=agent,
            action_type=STAGE_PROGRESSION,
        )
    return {
        h.deal_id: float(maps[h.agent_id].apply(h.confidence))
        for h in histories
        if h.agent_id is not None and h.confidence is not None
    }


async def _training(
    reads: Reads, viewer: Viewer, *, now: dt.datetime, extra: Sequence[int] = ()
) -> tuple[list[repo.DealHistory], dict[int, float]]:
    async with reads() as session:
        closed = await repo.closed_deal_ids(session, viewer)
        histories = await repo.deal_histories(session, viewer, [*closed, *extra], until=now)
        calibrated = await _calibrated(session, viewer, histories)
    return histories, calibrated


def _model_inputs(
    closed: Sequence[repo.DealHistory], calibrated: dict[int, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stage reached, calibrated confidence (NaN: none) and won, per closed deal."""
    return (
        np.array([_reached(h) for h in closed], dtype=float),
        np.array([calibrated.get(h.deal_id, math.nan) for h in closed], dtype=float),
        np.array([1.0 if h.stage == "closed_won" else 0.0 for h in closed]),
    )


def _reliability(
    closed: Sequence[repo.DealHistory], calibrated: dict[int, float]
) -> WinModelReliability:
    stage, confidence, won = _model_inputs(closed, calibrated)
    model: WinModel = fit_win_model(stage=stage, confidence=confidence, won=won)
    return WinModelReliability(
        closed_deals=model.closed,
        won_deals=model.won,
        method=model.method,
        reliability=cross_validated_reliability(stage=stage, confidence=confidence, won=won),
    )


async def win_probability_reliability(
    reads: Reads, viewer: Viewer, *, now: dt.datetime | None = None
) -> WinModelReliability:
    """How reliable the win probabilities are on the closed deals the viewer may see."""
    _require_deal_reader(viewer)
    histories, calibrated = await _training(reads, viewer, now=now or utcnow())
    closed = [h for h in histories if h.stage in repo.CLOSED]
    return await asyncio.to_thread(_reliability, closed, calibrated)


async def deal_win_probability(
    reads: Reads, viewer: Viewer, *, deal_id: int, now: dt.datetime | None = None
) -> DealWinProbability:
    """One deal's win probability (its readers: a foreign or out-of-scope deal is not found)."""
    _require_deal_reader(viewer)
    now = now or utcnow()
    async with reads() as session:
        deal = await repo.deal_in_scope(session, viewer, deal_id)
    if deal is None:
        raise NotFoundError("deal", field="dealId")
    histories, calibrated = await _training(reads, viewer, now=now, extra=[deal.id])
    this = next(h for h in histories if h.deal_id == deal.id)
    closed = [h for h in histories if h.stage in repo.CLOSED and h.deal_id != deal.id]

    def compute() -> tuple[Estimate | None, str | None, WinModelReliability]:
        checked = _reliability(closed, calibrated)
        if this.stage in repo.CLOSED:
            return None, None, checked
        stage, confidence, won = _model_inputs(closed, calibrated)
        model = fit_win_model(stage=stage, confidence=confidence, won=won)
        p, method = win_probability(
            model, stage=float(_reached(this)), confidence=calibrated.get(this.deal_id)
        )
        return p, method, checked

    probability, method, checked = await asyncio.to_thread(compute)
    return DealWinProbability(
        deal_id=deal.id,
        stage=this.stage,
        stage_reached=PIPELINE[_reached(this)],
        raw_confidence=this.confidence,
        calibrated_confidence=calibrated.get(this.deal_id),
        probability=probability,
        method=method,
        reliability=checked,
    )
