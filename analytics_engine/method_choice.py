"""The recalibration method chosen by out-of-sample evidence: exact leave-one-out log loss of
each candidate map (identity, Platt, isotonic, a histogram on groups of bins chosen by the data,
and the pooled Platt map) on the bin aggregates, in place of a fixed sample size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from analytics_engine.binned_platt import BinnedOutcomes, binned_outcomes, fit_binned_platt
from analytics_engine.calibration_stats import CalibrationStats
from analytics_engine.isotonic import pool_adjacent_violators
from analytics_engine.pooling import PooledRecalibration
from analytics_engine.recalibration import RecalibrationMap, fit_recalibration
from analytics_engine.step_histogram import MAX_LEVELS, fit_step_histogram, step_histogram_map

Candidate = Literal["identity", "platt", "isotonic", "histogram", "pooled"]
CANDIDATES: tuple[Candidate, ...] = ("identity", "platt", "isotonic", "histogram", "pooled")
LOSS_EPS = 1e-4  # predictions are clipped to [LOSS_EPS, 1 - LOSS_EPS] before the log


@dataclass(frozen=True)
class MethodChoice:
    """The map chosen by leave-one-out evidence, and the evidence.

    - ``map``: the chosen map, fitted on all the outcomes;
    - ``method``: the chosen candidate (``"pooled"`` is the ``PooledRecalibration`` given);
    - ``loo_log_loss``: per candidate, the mean leave-one-out log loss per outcome (NaN for a
      candidate that could not be fitted or was not offered); the chosen one is the smallest;
    - ``identity_log_loss``: the same for the identity, the baseline every choice beats or
      equals; ``n``: the outcomes; ``reason``: one plain-English sentence.
    """

    map: RecalibrationMap
    method: Candidate
    loo_log_loss: dict[str, float]
    identity_log_loss: float
    n: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN as ``None``)."""

        def clean(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {
            "map": self.map.to_dict(),
            "method": self.method,
            "loo_log_loss": {k: clean(v) for k, v in self.loo_log_loss.items()},
            "identity_log_loss": clean(self.identity_log_loss),
            "n": self.n,
            "reason": self.reason,
        }


def _removals(bins: BinnedOutcomes) -> tuple[NDArray[np.float64], ...]:
    """For every bin ``k``: the counts and successes with one success of bin ``k`` left out
    (rows ``0..K-1``) and with one failure left out (rows ``K..2K-1``); a bin holding less
    than one outcome (decayed statistics) is left out whole."""
    c, s = bins.count, bins.successes
    k = c.size
    r = np.minimum(c, 1.0)
    counts = np.tile(c, (2 * k, 1))
    succ = np.tile(s, (2 * k, 1))
    idx = np.arange(k)
    counts[idx, idx] -= r
    succ[idx, idx] = np.maximum(s - r, 0.0)
    counts[k + idx, idx] -= r
    succ[k + idx, idx] = np.minimum(s, c - r)
    return counts, succ


def _loo_platt(
    bins: BinnedOutcomes,
    prior_mean: NDArray[np.float64] | None,
    prior_precision: NDArray[np.float64] | None,
    start: NDArray[np.float64],
) -> NDArray[np.float64] | None:
    counts, succ = _removals(bins)
    fits = fit_binned_platt(
        bins.z,
        counts,
        succ,
        prior_mean=prior_mean,
        prior_precision=prior_precision,
        start=start,
    )
    if not fits.converged.all():
        return None
    a, b = fits.params[:, 0], fits.params[:, 1]
    k = bins.count.size
    idx = np.concatenate((np.arange(k), np.arange(k)))
    eta = a + b * bins.z[idx]
    fitted = 0.5 * (1 + np.tanh(0.5 * eta))
    # a decreasing fit is replaced by the constant mean rate, as fit_recalibration does; with
    # nothing left (a lone outcome left out) the refit is the prior's, kept as it is
    total = counts.sum(axis=1)
    rate = np.divide(succ.sum(axis=1), total, out=fitted.copy(), where=total > 0)
    out: NDArray[np.float64] = np.where(b < 0, rate, fitted)
    return out


def _loo_pav(bins: BinnedOutcomes) -> NDArray[np.float64]:
    counts, succ = _removals(bins)
    k = bins.count.size
    out = np.empty(2 * k)
    for row in range(2 * k):
        target = row % k
        keep = counts[row] > 1e-12
        c, s, x = counts[row][keep], succ[row][keep], bins.x[keep]
        if c.size == 0:
            out[row] = bins.x[target]  # nothing left: the identity
            continue
        ys = pool_adjacent_violators(s / c, c)
        out[row] = np.interp(bins.x[target], x, np.clip(ys, 0.0, 1.0))
    return out


def _loo_step(bins: BinnedOutcomes, max_levels: int) -> NDArray[np.float64]:
    """The step histogram refitted on every removal, all rows in one dynamic programme; a bin
    left empty by the removal is predicted as the refitted map would: linearly between the
    neighbouring non-empty bins' levels (the map's knots)."""
    counts, succ = _removals(bins)
    k = bins.count.size
    levels = fit_step_histogram(counts, succ, max_levels=max_levels).levels
    rows = np.arange(2 * k)
    target = rows % k
    out = levels[rows, target]
    for row in np.flatnonzero(counts[rows, target] <= 1e-12):
        keep = counts[row] > 1e-12
        if not keep.any():
            out[row] = bins.x[target[row]]  # nothing left: the identity
        else:
            out[row] = np.interp(bins.x[target[row]], bins.x[keep], levels[row, keep])
    return out


def choose_recalibration(
    stats: CalibrationStats,
    *,
    pooled: PooledRecalibration | None = None,
    max_levels: int = MAX_LEVELS,
    margin_se: float = 1.0,
) -> MethodChoice:
    """Choose the recalibration map with the smallest leave-one-out log loss on ``stats``.

    Every outcome of bin ``k`` is predicted at the bin's mean confidence ``p̄_k`` (the binned
    forecast, which per-bin sums describe exactly) by the candidate refitted without it. All
    outcomes of a bin with the same ``y`` share one refit, so exact leave-one-out cross-
    validation (Stone 1974) costs two refits per non-empty bin, whatever ``n``:

    ``LOO = Σ_k s_k · −log q̂_k^(−1, k) + (n_k − s_k) · −log(1 − q̂_k^(−0, k))``,

    ``q̂^(−y, k)`` the candidate fitted without one outcome ``y`` of bin ``k`` (clipped to
    ``[1e-4, 1 − 1e-4]``). Candidates: ``identity`` (no fit), ``platt`` and ``isotonic`` as
    ``fit_recalibration`` fits them; ``histogram``, a step map on at most ``max_levels`` groups
    of adjacent bins chosen by the data (``step_histogram_map``; BIC chooses the number of
    groups in every refit, so its leave-one-out loss pays for that choice); and, when ``pooled``
    is given with ``source == "pooled"``, the pooled Platt map (refitted under the same group
    prior, which does not hold this agent's data).

    The rule: the default is the two-parameter map (the pooled one when offered, else Platt,
    else the identity); another map (Platt when the pooled one is the default, isotonic,
    histogram) can replace it only when its leave-one-out loss is lower by more than
    ``margin_se`` standard errors of the paired per-outcome difference from the default's (the
    standard error of a difference of leave-one-out scores, Vehtari, Gelman & Gabry 2017, §5.2;
    one standard error as in the one-standard-error rule, Hastie, Tibshirani & Friedman 2009,
    §7.10): a few hundred outcomes rarely tell a step from a logistic curve, and picking the
    flexible map on noise costs more than it gains. Of the maps that clear the margin, the one
    with the smallest loss replaces the default. Last, a map whose loss is not below the
    identity's is replaced by the identity, so the chosen map never has a larger leave-one-out
    loss than the raw confidence (and a tie, e.g. one outcome, keeps the raw confidence).

    >>> rng = np.random.default_rng(3)
    >>> p = rng.random(3000)
    >>> step = np.where(p < 0.5, 0.3, 0.7)  # a step: no logistic curve fits it
    >>> choice = choose_recalibration(CalibrationStats.from_arrays(p, rng.random(3000) < step))
    >>> choice.method, choice.loo_log_loss["histogram"] < choice.loo_log_loss["platt"]
    ('histogram', True)
    """
    if not isinstance(stats, CalibrationStats):
        raise ValueError(f"stats must be CalibrationStats, got {type(stats).__name__}")
    if pooled is not None and not isinstance(pooled, PooledRecalibration):
        raise ValueError(f"pooled must be PooledRecalibration, got {type(pooled).__name__}")
    if isinstance(max_levels, bool) or not isinstance(max_levels, int) or max_levels < 1:
        raise ValueError(f"max_levels must be a positive integer, got {max_levels!r}")
    if not margin_se >= 0:
        raise ValueError(f"margin_se must be non-negative, got {margin_se!r}")
    bins = binned_outcomes(stats)
    n = bins.n
    losses: dict[str, float] = dict.fromkeys(CANDIDATES, math.nan)
    use_pooled = pooled is not None and pooled.source == "pooled"
    if not n > 0:
        if use_pooled and pooled is not None:
            return MethodChoice(
                pooled.map, "pooled", losses, math.nan, n,
                "No outcomes yet: the map pooled from the other agents.",
            )  # fmt: skip
        return MethodChoice(
            RecalibrationMap.identity(n=n), "identity", losses, math.nan, n,
            "No outcomes yet: the raw confidence.",
        )  # fmt: skip
    s = bins.successes
    f = bins.count - s
    k = bins.count.size
    pointwise: dict[str, NDArray[np.float64]] = {}  # (2K,): loss of each bin's successes, failures

    def record(name: str, q: NDArray[np.float64]) -> None:
        q = np.clip(q, LOSS_EPS, 1 - LOSS_EPS)
        pointwise[name] = np.concatenate((-np.log(q[:k]), -np.log1p(-q[k:])))
        losses[name] = float(np.sum(weight * pointwise[name])) / n

    weight = np.concatenate((s, f))
    record("identity", np.concatenate((bins.x, bins.x)))
    if k >= 3:
        own = fit_binned_platt(bins.z, bins.count, bins.successes)
        if own.converged[0]:
            q = _loo_platt(bins, None, None, own.params[0])
            if q is not None:
                record("platt", q)
    record("isotonic", _loo_pav(bins))
    record("histogram", _loo_step(bins, max_levels))
    if use_pooled and pooled is not None:
        start = np.array([pooled.map.intercept, pooled.map.slope])
        precision = np.asarray(np.linalg.inv(pooled.prior_covariance), dtype=np.float64)
        q = _loo_platt(bins, pooled.prior_mean, precision, start)
        if q is not None:
            record("pooled", q)
    defaults: tuple[Candidate, ...] = ("pooled", "platt", "identity")
    default = next(name for name in defaults if name in pointwise)
    method = default
    for name in CANDIDATES:  # the challengers: every fitted map but the default and identity
        if name in (default, "identity") or name not in pointwise:
            continue
        diff = pointwise[name] - pointwise[default]
        mean = float(np.sum(weight * diff)) / n
        se = math.sqrt(max(float(np.sum(weight * (diff - mean) ** 2)) / n, 0.0) / n)
        if mean < -margin_se * se and losses[name] < losses[method]:
            method = name
    if losses[method] >= losses["identity"]:
        method = "identity"
    finite = {name: v for name, v in losses.items() if math.isfinite(v)}
    if method == "pooled" and pooled is not None:
        chosen = pooled.map
    elif method == "histogram":
        chosen = step_histogram_map(stats, max_levels=max_levels)
    else:
        chosen = fit_recalibration(stats, method=method)  # type: ignore[arg-type]
    ranked = ", ".join(f"{name} {v:.4f}" for name, v in sorted(finite.items(), key=lambda i: i[1]))
    if losses[method] <= min(finite.values()):
        verdict = f"{method.capitalize()} has the smallest leave-one-out log loss"
    elif method == default:
        verdict = (
            f"{method.capitalize()} is kept: no other map's leave-one-out log loss is lower by "
            f"more than {margin_se:g} standard errors"
        )
    else:
        verdict = (
            f"{method.capitalize()} is chosen: the smallest leave-one-out log loss of the maps "
            f"better than {default} by more than {margin_se:g} standard errors"
        )
    reason = f"{verdict} on {n:g} outcomes ({ranked} per outcome)."
    return MethodChoice(chosen, method, losses, losses["identity"], n, reason)
