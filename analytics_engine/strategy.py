"""Strategic figures for executives, from aggregates: what moving an action type's autonomy
threshold would do (``what_if``), whether to expand, hold or pull back its autonomy
(``recommend``), and a deal's win probability with its reliability on closed deals
(``fit_win_model``, ``win_probability``, ``cross_validated_reliability``).

Pure functions over arrays; frozen dataclasses out; ``ValueError`` naming the argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analytics_engine.intervals import _z, jeffreys_interval, wilson_bounds
from analytics_engine.logistic import fit_logistic
from analytics_engine.roi import Span

# -- shared shapes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A projected figure and its interval (``lower <= value <= upper``; NaN when undefined)."""

    value: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Bounds:
    """A money or hours figure at the low, expected and high ends of its assumptions and of
    the intervals it is built from (interval arithmetic: ``low`` is the least, ``high`` the
    most, every combination of the ends considered)."""

    low: float
    expected: float
    high: float

    @classmethod
    def of(cls, value: Span | Estimate | float) -> Bounds:
        if isinstance(value, Span):
            return cls(value.low, value.expected, value.high)
        if isinstance(value, Estimate):
            return cls(value.lower, value.value, value.upper)
        return cls(float(value), float(value), float(value))

    def __add__(self, other: Bounds) -> Bounds:
        return Bounds(self.low + other.low, self.expected + other.expected, self.high + other.high)

    def __sub__(self, other: Bounds) -> Bounds:
        return Bounds(self.low - other.high, self.expected - other.expected, self.high - other.low)

    def __mul__(self, other: Bounds) -> Bounds:
        corners = [a * b for a in (self.low, self.high) for b in (other.low, other.high)]
        return Bounds(min(corners), self.expected * other.expected, max(corners))

    def scaled(self, factor: float) -> Bounds:
        return self * Bounds.of(factor)


def _vector(values: ArrayLike, name: str, *, unit: bool = False) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} has NaN or infinite values")
    if unit and arr.size and not (arr.min() >= 0.0 and arr.max() <= 1.0):
        raise ValueError(f"{name} has values outside [0, 1]")
    if not unit and (arr < 0).any():
        raise ValueError(f"{name} has negative values")
    return arr


def _threshold(value: ArrayLike, name: str, size: int) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape != (size,)):
        raise ValueError(f"{name} must be a number or one value per bin ({size})")
    if not np.isfinite(arr).all() or (arr < 0).any() or (arr > 1).any():
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return np.broadcast_to(arr, (size,))


# -- what if: thresholds over calibrated bins ------------------------------------------------


@dataclass(frozen=True)
class ThresholdProjection:
    """What a policy does to actions like those observed, ``actions`` of them.

    ``autonomous`` act alone (raw confidence >= the autonomy threshold), ``escalated`` go to a
    person (below the escalation threshold), ``reviewed`` act with a review in between.
    ``successes`` and ``errors`` are the expected successes and failures of the autonomous
    actions (sums of calibrated p and 1 - p), ``error_rate`` = errors / autonomous;
    ``reviewed_successes`` and ``escalated_successes`` the successes expected of the reviewed
    and escalated actions had the agent done them."""

    actions: float
    autonomous: float
    reviewed: float
    escalated: float
    successes: Estimate
    errors: Estimate
    error_rate: Estimate
    reviewed_successes: Estimate
    escalated_successes: Estimate


@dataclass(frozen=True)
class ProjectionChange:
    """Proposed minus current, with the intervals of the changes (the actions that switch
    band carry all of a change's uncertainty)."""

    autonomous: float
    reviewed: float
    escalated: float
    successes: Estimate  # of the autonomous actions
    errors: Estimate  # of the autonomous actions
    kept_successes: Estimate  # of the actions not escalated (autonomous and reviewed)


@dataclass(frozen=True)
class WhatIf:
    current: ThresholdProjection
    proposed: ThresholdProjection
    change: ProjectionChange


def _sum_estimate(
    weight: NDArray[np.float64],
    p: NDArray[np.float64],
    decided: NDArray[np.float64],
    z: float,
    *,
    low: float,
    high: float,
) -> Estimate:
    """``Σ w p`` with a normal interval of variance ``Σ |w| p(1-p)`` (the outcomes: a
    Poisson-binomial sum, Wang 1993) ``+ Σ w² p(1-p) / n`` (each bin's rate estimated from its
    ``n`` decided outcomes, binomial), clipped to ``[low, high]``."""
    value = float(np.sum(weight * p))
    spread = p * (1.0 - p)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimation = np.where(decided > 0, weight * weight * spread / decided, 0.0)
    half = z * math.sqrt(float(np.sum(np.abs(weight) * spread) + np.sum(estimation)))
    return Estimate(value, max(value - half, low), min(value + half, high))


def _bands(
    confidence: NDArray[np.float64], autonomous_above: ArrayLike, escalate_below: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    size = confidence.size
    auto_at = _threshold(autonomous_above, "autonomous_above", size)
    escalate_at = _threshold(escalate_below, "escalate_below", size)
    if (escalate_at > auto_at).any():
        raise ValueError("escalate_below must not exceed autonomous_above")
    autonomous = (confidence >= auto_at).astype(np.float64)
    escalated = (confidence < escalate_at).astype(np.float64)
    return autonomous, 1.0 - autonomous - escalated, escalated


def _projection(
    weight: NDArray[np.float64],
    p: NDArray[np.float64],
    decided: NDArray[np.float64],
    bands: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    z: float,
) -> ThresholdProjection:
    auto, review, esc = (weight * band for band in bands)
    n_auto = float(auto.sum())
    successes = _sum_estimate(auto, p, decided, z, low=0.0, high=n_auto)
    errors = _sum_estimate(auto, 1.0 - p, decided, z, low=0.0, high=n_auto)
    if n_auto > 0:
        rate = Estimate(errors.value / n_auto, errors.lower / n_auto, errors.upper / n_auto)
    else:
        rate = Estimate(math.nan, math.nan, math.nan)
    n_review, n_esc = float(review.sum()), float(esc.sum())
    return ThresholdProjection(
        actions=float(weight.sum()),
        autonomous=n_auto,
        reviewed=n_review,
        escalated=n_esc,
        successes=successes,
        errors=errors,
        error_rate=rate,
        reviewed_successes=_sum_estimate(review, p, decided, z, low=0.0, high=n_review),
        escalated_successes=_sum_estimate(esc, p, decided, z, low=0.0, high=n_esc),
    )


def what_if(
    *,
    confidence: ArrayLike,
    calibrated: ArrayLike,
    count: ArrayLike,
    current_autonomous_above: ArrayLike,
    current_escalate_below: ArrayLike,
    autonomous_above: float,
    escalate_below: ArrayLike | None = None,
    volume: float | None = None,
    alpha: float = 0.05,
) -> WhatIf:
    """Project a policy change over confidence bins (or (agent, bin) cells).

    Per bin: ``confidence`` its mean raw confidence (the policy's units; the bin's actions are
    taken to sit at it, so the resolution is one bin width), ``calibrated`` the calibrated
    success probability of those actions, ``count`` its decided outcomes. Thresholds are in
    raw confidence, one number or one per bin (each agent's own policy); ``escalate_below``
    defaults to the current one, lowered to ``autonomous_above`` where it would exceed it.
    ``volume``: how many actions to project for, spread over the bins like ``count``
    (default: ``count.sum()``).

    Expected successes and errors are sums of p and 1 - p; their (1 - alpha) intervals are
    normal with the Poisson-binomial variance of the outcomes plus the binomial variance of
    each bin's estimated rate (see ``_sum_estimate``): a prediction interval for a period like
    the one observed, not counting any error in the recalibration map's shape.

    Hand-worked: bins at raw 0.3, 0.6, 0.9 with calibrated 0.2, 0.5, 0.8 and 100 outcomes
    each; autonomy from 0.7 to 0.5, escalation below 0.2: autonomous 100 -> 200, errors
    20 -> 70, the change +50 (variance 100 x 0.25 + 100² x 0.25 / 100 = 50, half-width
    1.96 x 7.07 = 13.9).

    >>> w = what_if(confidence=[0.3, 0.6, 0.9], calibrated=[0.2, 0.5, 0.8], count=[100] * 3,
    ...             current_autonomous_above=0.7, current_escalate_below=0.2,
    ...             autonomous_above=0.5)
    >>> w.current.autonomous, w.proposed.autonomous, round(w.change.errors.value, 6)
    (100.0, 200.0, 50.0)
    >>> round(w.change.errors.upper - w.change.errors.value, 2)
    13.86
    """
    p_raw = _vector(confidence, "confidence", unit=True)
    p = _vector(calibrated, "calibrated", unit=True)
    n = _vector(count, "count")
    if not p_raw.shape == p.shape == n.shape:
        raise ValueError("confidence, calibrated and count must have the same length")
    if not 0.0 <= float(autonomous_above) <= 1.0:
        raise ValueError(f"autonomous_above must lie in [0, 1], got {autonomous_above!r}")
    total = float(n.sum())
    if volume is None:
        volume = total
    if not (math.isfinite(volume) and volume >= 0):
        raise ValueError(f"volume must be a finite number >= 0, got {volume!r}")
    z = _z(alpha)
    weight = n * (volume / total) if total > 0 else np.zeros_like(n)
    current = _bands(p_raw, current_autonomous_above, current_escalate_below)
    if escalate_below is None:
        escalate = np.minimum(
            _threshold(current_escalate_below, "current_escalate_below", n.size), autonomous_above
        )
    else:
        escalate = _threshold(escalate_below, "escalate_below", n.size)
    proposed = _bands(p_raw, autonomous_above, escalate)
    before = _projection(weight, p, n, current, z)
    after = _projection(weight, p, n, proposed, z)
    moved = weight * (proposed[0] - current[0])
    kept = weight * (current[2] - proposed[2])
    change = ProjectionChange(
        autonomous=after.autonomous - before.autonomous,
        reviewed=after.reviewed - before.reviewed,
        escalated=after.escalated - before.escalated,
        successes=_sum_estimate(moved, p, n, z, low=-math.inf, high=math.inf),
        errors=_sum_estimate(moved, 1.0 - p, n, z, low=-math.inf, high=math.inf),
        kept_successes=_sum_estimate(kept, p, n, z, low=-math.inf, high=math.inf),
    )
    return WhatIf(before, after, change)


@dataclass(frozen=True)
class WorkAssumptions:
    """The assumptions behind hours and money: a person's minutes per task done by hand, per
    escalation handled, per review; the loaded hourly cost; the value of one success."""

    minutes_per_task: Span
    minutes_per_escalation: Span
    minutes_per_review: Span
    hourly_cost: Span
    value_per_success: Span


@dataclass(frozen=True)
class ProjectionValue:
    """Hours and money of a projection (or of a change between two).

    ``hours_saved``: the agent's actions not escalated (autonomous and reviewed) at the minutes
    a person takes per task; ``hours_caused``: escalations handled and reviews done;
    ``value_of_successes``: expected successes of the non-escalated actions at the value of
    one (gross: not over a human baseline); ``net_value`` = (saved - caused) x hourly cost +
    value of successes."""

    hours_saved: Bounds
    hours_caused: Bounds
    value_of_successes: Bounds
    net_value: Bounds


def _value(
    kept: float, reviewed: float, escalated: float, successes: Estimate, a: WorkAssumptions
) -> ProjectionValue:
    saved = Bounds.of(a.minutes_per_task).scaled(kept / 60.0)
    caused = Bounds.of(a.minutes_per_escalation).scaled(escalated / 60.0) + Bounds.of(
        a.minutes_per_review
    ).scaled(reviewed / 60.0)
    worth = Bounds.of(successes) * Bounds.of(a.value_per_success)
    net = (saved - caused) * Bounds.of(a.hourly_cost) + worth
    return ProjectionValue(saved, caused, worth, net)


def projection_value(
    projection: ThresholdProjection, assumptions: WorkAssumptions
) -> ProjectionValue:
    """The hours and money of one projection (``ProjectionValue``).

    >>> p = what_if(confidence=[0.9], calibrated=[0.8], count=[60],
    ...             current_autonomous_above=0.7, current_escalate_below=0.2,
    ...             autonomous_above=0.7).current
    >>> v = projection_value(p, WorkAssumptions(*(Span.exactly(x) for x in (10, 0, 0, 50, 0))))
    >>> v.hours_saved.expected, v.net_value.expected
    (10.0, 500.0)
    """
    successes = Estimate(
        projection.successes.value + projection.reviewed_successes.value,
        projection.successes.lower + projection.reviewed_successes.lower,
        projection.successes.upper + projection.reviewed_successes.upper,
    )
    kept = projection.autonomous + projection.reviewed
    return _value(kept, projection.reviewed, projection.escalated, successes, assumptions)


def change_value(w: WhatIf, assumptions: WorkAssumptions) -> ProjectionValue:
    """The hours and money of the change from ``w.current`` to ``w.proposed`` (signed)."""
    before, after = w.current, w.proposed
    kept = (after.autonomous + after.reviewed) - (before.autonomous + before.reviewed)
    return _value(
        kept,
        after.reviewed - before.reviewed,
        after.escalated - before.escalated,
        w.change.kept_successes,
        assumptions,
    )


# -- recommendation ----------------------------------------------------------------------------


class Advice(StrEnum):
    EXPAND = "expand_autonomy"
    HOLD = "hold"
    PULL_BACK = "pull_back"


class Finding(StrEnum):
    """Why: each names one check of ``recommend`` and how it came out."""

    OVERCONFIDENT = "overconfident"  # pull back
    ERROR_RATE_ABOVE_TARGET = "error_rate_above_target"  # pull back: lower end above target
    WORSE_THAN_PEOPLE = "worse_than_people"  # pull back: lift's upper end below 0
    CALIBRATED = "calibrated"
    NOT_CALIBRATED = "not_calibrated"  # insufficient data, underconfident, miscalibrated
    BETTER_THAN_PEOPLE = "better_than_people"  # lift's lower end above 0
    LIFT_NOT_SHOWN = "lift_not_shown"  # lift interval includes 0
    NO_BASELINE = "no_baseline"
    ERROR_RATE_WITHIN_TARGET = "error_rate_within_target"  # upper end at or below target
    ERROR_RATE_UNCERTAIN = "error_rate_uncertain"  # interval straddles the target
    NO_AUTONOMOUS_ACTIONS = "no_autonomous_actions"
    UNNECESSARY_ESCALATIONS = "unnecessary_escalations"  # escalated success above its target
    APPROPRIATE_ESCALATIONS = "appropriate_escalations"
    ESCALATIONS_UNDETERMINED = "escalations_undetermined"


@dataclass(frozen=True)
class Evidence:
    """One finding with the numbers behind it: ``value`` (``lower`` .. ``upper``) against
    ``target`` (NaN where a number does not apply)."""

    finding: Finding
    value: float = math.nan
    lower: float = math.nan
    upper: float = math.nan
    target: float = math.nan


@dataclass(frozen=True)
class Recommendation:
    advice: Advice
    evidence: tuple[Evidence, ...]  # what decided it first, then what else was found


def recommend(
    *,
    verdict: str,
    lift: tuple[float, float, float] | None,
    error_rate: Estimate,
    max_error_rate: float,
    escalated_success: Estimate | None,
    escalation_max_success: float,
) -> Recommendation:
    """Expand autonomy, hold, or pull back, for one action type.

    - Pull back when any is shown: the calibration verdict is ``overconfident``; the
      autonomous actions' error rate is above ``max_error_rate`` (its interval's lower end);
      the agent is worse than people (``lift`` = (lower, point, upper) of agent minus human
      success, upper end below 0).
    - Expand when all are shown: verdict ``calibrated``; lift's lower end above 0; the error
      rate's upper end at or below ``max_error_rate``.
    - Otherwise hold, saying which of these was not shown.

    Escalation appropriateness (the success rate the escalated actions would have had, against
    ``escalation_max_success``) is reported as evidence, not a gate: it says where autonomy
    would grow, not whether it should.

    >>> recommend(verdict="calibrated", lift=(0.01, 0.03, 0.05),
    ...           error_rate=Estimate(0.1, 0.05, 0.15), max_error_rate=0.3,
    ...           escalated_success=None, escalation_max_success=0.3).advice
    <Advice.EXPAND: 'expand_autonomy'>
    """
    for name, value in (
        ("max_error_rate", max_error_rate),
        ("escalation_max_success", escalation_max_success),
    ):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    if lift is not None and not lift[0] <= lift[1] <= lift[2]:
        raise ValueError(f"lift must be (lower, point, upper), got {lift!r}")
    rate = error_rate
    pull: list[Evidence] = []
    if verdict == "overconfident":
        pull.append(Evidence(Finding.OVERCONFIDENT))
    if math.isfinite(rate.lower) and rate.lower > max_error_rate:
        pull.append(
            Evidence(
                Finding.ERROR_RATE_ABOVE_TARGET, rate.value, rate.lower, rate.upper, max_error_rate
            )
        )
    if lift is not None and lift[2] < 0:
        pull.append(Evidence(Finding.WORSE_THAN_PEOPLE, lift[1], lift[0], lift[2], 0.0))

    checks: list[tuple[bool, Evidence]] = []
    calibrated = verdict == "calibrated"
    checks.append(
        (calibrated, Evidence(Finding.CALIBRATED if calibrated else Finding.NOT_CALIBRATED))
    )
    if lift is None:
        checks.append((False, Evidence(Finding.NO_BASELINE)))
    else:
        shown = lift[0] > 0
        found = Finding.BETTER_THAN_PEOPLE if shown else Finding.LIFT_NOT_SHOWN
        checks.append((shown, Evidence(found, lift[1], lift[0], lift[2], 0.0)))
    if not math.isfinite(rate.value):
        checks.append((False, Evidence(Finding.NO_AUTONOMOUS_ACTIONS)))
    else:
        within = rate.upper <= max_error_rate
        found = Finding.ERROR_RATE_WITHIN_TARGET if within else Finding.ERROR_RATE_UNCERTAIN
        checks.append((within, Evidence(found, rate.value, rate.lower, rate.upper, max_error_rate)))

    escalation = Evidence(Finding.ESCALATIONS_UNDETERMINED)
    s = escalated_success
    if s is not None and math.isfinite(s.value):
        if s.lower > escalation_max_success:
            escalation = Evidence(
                Finding.UNNECESSARY_ESCALATIONS, s.value, s.lower, s.upper, escalation_max_success
            )
        elif s.upper <= escalation_max_success:
            escalation = Evidence(
                Finding.APPROPRIATE_ESCALATIONS, s.value, s.lower, s.upper, escalation_max_success
            )
        else:
            escalation = Evidence(
                Finding.ESCALATIONS_UNDETERMINED, s.value, s.lower, s.upper, escalation_max_success
            )
    if pull:
        return Recommendation(Advice.PULL_BACK, (*pull, escalation))
    if all(ok for ok, _ in checks):
        return Recommendation(Advice.EXPAND, (*(e for _, e in checks), escalation))
    failed = [e for ok, e in checks if not ok]
    passed = [e for ok, e in checks if ok]
    return Recommendation(Advice.HOLD, (*failed, *passed, escalation))


# -- deal win probability ----------------------------------------------------------------------

_LOGIT_EPS = 1e-6


@dataclass(frozen=True)
class WinModel:
    """A deal's win probability from its furthest pipeline stage reached and the agent's
    calibrated stage-progression confidence, fitted on closed deals.

    ``method``: ``"logistic"`` (``logit P(won) = b0 + b1 stage + b2 logit(confidence)``, the
    columns that vary among the closed deals) or ``"stage_rate"`` (too few closed deals with a
    confidence, or a fit that did not converge or separated: the share won among the closed
    deals that reached at least the deal's stage, with the Jeffreys interval)."""

    method: str
    params: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]
    columns: tuple[str, ...]
    closed: int
    won: int
    stages: tuple[int, ...]  # the closed deals' stages (for the stage rate)
    outcomes: tuple[int, ...]


def _design(
    stage: NDArray[np.float64], confidence: NDArray[np.float64], columns: Sequence[str]
) -> NDArray[np.float64]:
    clipped = np.clip(confidence, _LOGIT_EPS, 1.0 - _LOGIT_EPS)
    parts = {
        "intercept": np.ones_like(stage),
        "stage": stage,
        "logit_confidence": np.log(clipped / (1.0 - clipped)),
    }
    return np.column_stack([parts[c] for c in columns])


def _win_inputs(
    stage: ArrayLike, confidence: ArrayLike, won: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    s = np.asarray(stage, dtype=np.float64)
    c = np.asarray(confidence, dtype=np.float64)
    y = np.asarray(won, dtype=np.float64)
    if s.ndim != 1 or c.shape != s.shape or y.shape != s.shape:
        raise ValueError("stage, confidence and won must be one-dimensional, of one length")
    if not np.isfinite(s).all() or (s < 0).any():
        raise ValueError("stage must hold stage indexes >= 0")
    known = c[~np.isnan(c)]
    if known.size and not (known.min() >= 0 and known.max() <= 1):
        raise ValueError("confidence has values outside [0, 1] (NaN marks none)")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("won must be 0 or 1")
    return s, c, y


def fit_win_model(
    *, stage: ArrayLike, confidence: ArrayLike, won: ArrayLike, min_closed: int = 30
) -> WinModel:
    """Fit the model on closed deals: ``stage`` the furthest stage reached (0 = first of the
    pipeline), ``confidence`` the calibrated confidence of the deal's last stage-progression
    action (NaN when it had none), ``won`` 1 or 0. The logistic model is fitted (the engine's
    IRLS, ``logistic.fit_logistic``) on the deals with a confidence when there are at least
    ``min_closed`` of them with both outcomes present; its covariance is ``(X'WX)^-1``."""
    s, c, y = _win_inputs(stage, confidence, won)
    closed = (int(y.size), int(y.sum()), tuple(int(v) for v in s), tuple(int(v) for v in y))
    has = ~np.isnan(c)
    ys = y[has]
    if ys.size >= min_closed and 0 < ys.sum() < ys.size:
        columns = ["intercept"]
        if np.ptp(s[has]) > 0:
            columns.append("stage")
        if np.ptp(c[has]) > 0:
            columns.append("logit_confidence")
        x = _design(s[has], c[has], columns)
        fit = fit_logistic(x, ys, np.ones_like(ys))
        if fit.converged and not fit.perfect_prediction and np.isfinite(fit.params).all():
            mu = 1.0 / (1.0 + np.exp(-(x @ fit.params)))
            info = x.T @ (x * (mu * (1.0 - mu))[:, None])
            cov = np.linalg.pinv(info)
            return WinModel(
                "logistic",
                tuple(fit.params.tolist()),
                tuple(tuple(r) for r in cov.tolist()),
                tuple(columns),
                *closed,
            )
    return WinModel("stage_rate", (), (), (), *closed)


def win_probability(
    model: WinModel, *, stage: float, confidence: float | None, alpha: float = 0.05
) -> tuple[Estimate, str]:
    """A deal's win probability with its (1 - alpha) interval, and the method used: the
    logistic model's (interval by the delta method on the linear predictor, mapped through the
    logistic function) when the model is logistic and the deal has a confidence, else the
    stage rate (Jeffreys posterior mean (won + 1/2) / (n + 1) and interval).

    Four closed deals are too few for the logistic model; two reached stage 2 or later and
    both were won: (2 + 1/2) / (2 + 1) = 0.8333, upper end 1 (all won):

    >>> m = fit_win_model(stage=[0, 1, 2, 3], confidence=[0.2, 0.4, 0.6, 0.8], won=[0, 0, 1, 1])
    >>> p, method = win_probability(m, stage=2, confidence=0.7)
    >>> method, round(p.value, 4), round(p.lower, 4), p.upper
    ('stage_rate', 0.8333, 0.3332, 1.0)
    """
    if not math.isfinite(stage) or stage < 0:
        raise ValueError(f"stage must be a stage index >= 0, got {stage!r}")
    if confidence is not None and not 0.0 <= confidence <= 1.0:
        raise ValueError(f"confidence must lie in [0, 1], got {confidence!r}")
    if model.method == "logistic" and confidence is not None:
        x = _design(np.array([float(stage)]), np.array([confidence]), model.columns)[0]
        beta = np.array(model.params)
        cov = np.array(model.covariance)
        eta = float(x @ beta)
        half = _z(alpha) * math.sqrt(max(float(x @ cov @ x), 0.0))

        def expit(v: float) -> float:
            return 1.0 / (1.0 + math.exp(-v))

        return Estimate(expit(eta), expit(eta - half), expit(eta + half)), "logistic"
    stages = np.array(model.stages, dtype=np.float64)
    outcomes = np.array(model.outcomes, dtype=np.float64)
    reached = stages >= stage
    n, x_won = float(reached.sum()), float(outcomes[reached].sum())
    ci = jeffreys_interval([x_won], [n], alpha=alpha)
    return Estimate((x_won + 0.5) / (n + 1.0), float(ci.lower[0]), float(ci.upper[0])), "stage_rate"


@dataclass(frozen=True)
class ReliabilityPoint:
    """One bin of predicted win probability: closed deals in it, mean predicted, share won
    (Wilson interval)."""

    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed: float
    observed_lower: float
    observed_upper: float


@dataclass(frozen=True)
class WinReliability:
    """How good the win probabilities were on closed deals: ``brier`` (mean squared error),
    ``reference_brier`` (always predicting the share won: a skill score is 1 - brier /
    reference), ``ece`` (count-weighted |mean predicted - observed| over the bins), and the
    reliability curve (non-empty bins)."""

    closed: int
    brier: float
    reference_brier: float
    ece: float
    curve: tuple[ReliabilityPoint, ...]


def reliability(predicted: ArrayLike, won: ArrayLike, *, n_bins: int = 10) -> WinReliability:
    """Brier score (Brier 1950), ECE and the reliability curve of predictions on closed deals,
    with scikit-learn's uniform bins (``calibration_curve(strategy="uniform")``).

    >>> r = reliability([0.9, 0.8, 0.3, 0.2], [1, 1, 0, 1])
    >>> round(r.brier, 4), round(r.reference_brier, 4)
    (0.195, 0.1875)
    """
    p = _vector(predicted, "predicted", unit=True)
    y = np.asarray(won, dtype=np.float64)
    if y.shape != p.shape or not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("won must hold 0 or 1 for every prediction")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1, got {n_bins!r}")
    if p.size == 0:
        return WinReliability(0, math.nan, math.nan, math.nan, ())
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.searchsorted(edges[1:-1], p, side="left")
    count = np.bincount(index, minlength=n_bins)
    sum_p = np.bincount(index, weights=p, minlength=n_bins)
    sum_y = np.bincount(index, weights=y, minlength=n_bins)
    curve = []
    ece = 0.0
    for k in np.flatnonzero(count):
        n = float(count[k])
        rate, lo, hi = wilson_bounds(float(sum_y[k]), n)
        mean_p = float(sum_p[k]) / n
        ece += n * abs(mean_p - rate)
        curve.append(
            ReliabilityPoint(float(edges[k]), float(edges[k + 1]), int(n), mean_p, rate, lo, hi)
        )
    base = float(y.mean())
    return WinReliability(
        closed=int(p.size),
        brier=float(np.mean((p - y) ** 2)),
        reference_brier=float(np.mean((base - y) ** 2)),
        ece=ece / p.size,
        curve=tuple(curve),
    )


def cross_validated_reliability(
    *,
    stage: ArrayLike,
    confidence: ArrayLike,
    won: ArrayLike,
    folds: int = 10,
    min_closed: int = 30,
    n_bins: int = 10,
) -> WinReliability:
    """The model's reliability on closed deals it was not fitted on: deal ``i`` goes to fold
    ``i mod folds``; each fold is predicted by the model fitted on the others
    (``fit_win_model`` with the same rules), then ``reliability`` of all those predictions.
    Deterministic (no random split); the caller orders the deals (e.g. by id)."""
    s, c, y = _win_inputs(stage, confidence, won)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    fold = np.arange(y.size) % folds
    predicted = np.empty(y.size)
    for f in range(min(folds, y.size)):
        test = fold == f
        model = fit_win_model(
            stage=s[~test], confidence=c[~test], won=y[~test], min_closed=min_closed
        )
        for i in np.flatnonzero(test):
            ci = None if math.isnan(c[i]) else float(c[i])
            predicted[i] = win_probability(model, stage=float(s[i]), confidence=ci)[0].value
    return reliability(predicted, y, n_bins=n_bins)
