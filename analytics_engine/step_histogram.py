"""Histogram binning on groups of bins chosen by the data: a monotone step map with at most a
few levels, for the method choice (``method_choice``), fitted on the per-bin sums of many
weightings of the same bins at once.

The fixed 20 statistics bins hold about 5 outcomes each after 100 outcomes: one rate per bin
(isotonic regression, the per-bin histogram) is mostly noise, a logistic curve cannot follow a
step. Merging adjacent bins into a few groups, where the data say so, estimates each level from
dozens of outcomes and puts the steps where they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analytics_engine.binned_platt import binned_outcomes
from analytics_engine.calibration_stats import CalibrationStats
from analytics_engine.isotonic import pool_adjacent_violators
from analytics_engine.recalibration import RecalibrationMap

MAX_LEVELS = 6


@dataclass(frozen=True)
class StepFits:
    """One fit per row: ``levels`` ``(rows, bins)``, the fitted rate of every bin (non-
    decreasing along the bins; NaN in a row without outcomes), and ``groups`` ``(rows,)``, the
    number of groups BIC chose (PAV may pool some of them into one level; 0 without outcomes).
    """

    levels: NDArray[np.float64]
    groups: NDArray[np.intp]


def _xlogy(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """``x · log y``, 0 where ``x`` is 0 (as ``scipy.special.xlogy``, which the server must not
    import: tests/backend/test_imports.py)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out: NDArray[np.float64] = np.where(x == 0, 0.0, x * np.log(y))
    return out


def _group_cost(c: NDArray[np.float64], s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Minus the binomial log-likelihood of a group at its own rate ``s / c`` (``+inf`` for a
    group without outcomes: every group must hold some)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = s / c
        out = -(_xlogy(s, r) + _xlogy(c - s, 1.0 - r))
    return np.where(c > 0, out, np.inf)


def fit_step_histogram(
    count: NDArray[np.float64],
    successes: NDArray[np.float64],
    *,
    max_levels: int = MAX_LEVELS,
) -> StepFits:
    """Histogram binning (Zadrozny & Elkan 2001) on groups of adjacent bins chosen by the data,
    one fit per row of ``count`` and ``successes`` (shape ``(rows, bins)`` or ``(bins,)``, the
    bins in the order of their confidence).

    1. For every ``g`` in ``1 … max_levels``: the partition of the bins into ``g`` contiguous
       groups that maximises the binomial log-likelihood ``ℓ_g`` with each group at its own
       rate, found exactly by dynamic programming over the cut points (Bellman 1961, "On the
       approximation of curves by line segments using dynamic programming", CACM 4; Jackson et
       al. 2005, "An algorithm for optimal partitioning of data on an interval", IEEE SPL 12).
       A group holds at least one outcome; an empty bin joins a neighbouring group.
    2. ``g`` minimises BIC (Schwarz 1978): ``−2 ℓ_g + (2g − 1) log n`` (``g`` rates and
       ``g − 1`` cut points), the smallest ``g`` on ties.
    3. Each group's level is ``(Σy + ½) / (n_g + 1)`` (the posterior mean under the Jeffreys
       prior Beta(½, ½): never exactly 0 or 1), made non-decreasing by PAV weighted by the
       groups' outcomes (a reduced monotone regression, Schell & Singh 1997, JASA 92).

    >>> f = fit_step_histogram(np.array([10.0, 10, 10, 10]), np.array([2.0, 3, 7, 8]))
    >>> int(f.groups[0]), f.levels[0].round(3).tolist()
    (2, [0.262, 0.262, 0.738, 0.738])
    """
    if isinstance(max_levels, bool) or not isinstance(max_levels, int) or max_levels < 1:
        raise ValueError(f"max_levels must be a positive integer, got {max_levels!r}")
    c = np.atleast_2d(np.asarray(count, dtype=np.float64))
    s = np.atleast_2d(np.asarray(successes, dtype=np.float64))
    if c.shape != s.shape or c.ndim != 2:
        raise ValueError("count and successes must have the same shape (rows, bins)")
    if not (np.isfinite(c).all() and np.isfinite(s).all()):
        raise ValueError("count and successes must be finite")
    if (c < 0).any() or (s < 0).any() or (s > c).any():
        raise ValueError("need 0 <= successes <= count")
    rows, k = c.shape
    edges = np.arange(k + 1)
    cum_c = np.concatenate((np.zeros((rows, 1)), np.cumsum(c, axis=1)), axis=1)
    cum_s = np.concatenate((np.zeros((rows, 1)), np.cumsum(s, axis=1)), axis=1)
    # cost[r, i, j]: the group of bins i … j − 1 (i < j)
    gc = cum_c[:, None, :] - cum_c[:, :, None]
    gs = np.clip(cum_s[:, None, :] - cum_s[:, :, None], 0.0, np.maximum(gc, 0.0))
    cost = np.where(edges[:, None] < edges[None, :], _group_cost(gc, gs), np.inf)
    levels_max = min(max_levels, k)
    best = np.full((rows, k + 1), np.inf)
    best[:, 0] = 0.0
    back = np.zeros((levels_max, rows, k + 1), dtype=np.intp)
    neg_loglik = np.empty((rows, levels_max))
    for g in range(levels_max):
        total = best[:, :, None] + cost
        back[g] = np.argmin(total, axis=1)
        best = np.take_along_axis(total, back[g][:, None, :], axis=1)[:, 0, :]
        neg_loglik[:, g] = best[:, k]
    n = cum_c[:, k]
    penalty = (2.0 * np.arange(1, levels_max + 1) - 1.0) * np.log(np.maximum(n, 1.0))[:, None]
    bic = 2.0 * neg_loglik + penalty
    has_data = n > 0
    groups = np.where(has_data, np.argmin(bic, axis=1) + 1, 0)
    # back-track the chosen partition: starts[r, g] is the first bin of group g
    starts = np.full((rows, levels_max), k, dtype=np.intp)
    end = np.full(rows, k, dtype=np.intp)
    every = np.arange(rows)
    for g in range(levels_max - 1, -1, -1):
        used = g < groups
        start = back[g, every, end]
        starts[:, g] = np.where(used, start, k)
        end = np.where(used, start, end)
    label = np.sum(edges[None, None, :k] >= starts[:, :, None], axis=1) - 1  # (rows, bins)
    label = np.clip(label, 0, levels_max - 1)
    levels = np.full((rows, k), np.nan)
    for r in np.flatnonzero(has_data):
        g = int(groups[r])
        size = np.bincount(label[r], weights=c[r], minlength=levels_max)[:g]
        wins = np.bincount(label[r], weights=s[r], minlength=levels_max)[:g]
        pooled = pool_adjacent_violators((wins + 0.5) / (size + 1.0), size)
        levels[r] = pooled[label[r]]
    return StepFits(levels=levels, groups=groups.astype(np.intp))


def step_histogram_map(
    stats: CalibrationStats, *, max_levels: int = MAX_LEVELS
) -> RecalibrationMap:
    """The ``histogram`` candidate fitted on all of ``stats``: ``fit_step_histogram`` on the
    non-empty bins, a knot at every bin's mean confidence with its group's level (constant
    within a group, linear between the last bin of one group and the first of the next, constant
    beyond the end knots, as ``fit_recalibration``'s maps); the identity without outcomes.

    >>> p = np.repeat([0.1, 0.3, 0.7, 0.9], 50)
    >>> y = np.tile(np.r_[np.ones(10), np.zeros(40)], 4)  # 20 % succeed in every bin
    >>> step_histogram_map(CalibrationStats.from_arrays(p, y)).apply([0.1, 0.5, 0.9]).round(3)
    array([0.201, 0.201, 0.201])
    """
    bins = binned_outcomes(stats)
    if not bins.n > 0:
        return RecalibrationMap.identity(n=bins.n)
    levels = fit_step_histogram(bins.count, bins.successes, max_levels=max_levels).levels[0]
    ys = np.clip(np.maximum.accumulate(levels), 0.0, 1.0)
    return RecalibrationMap("histogram", tuple(bins.x.tolist()), tuple(ys.tolist()), n=bins.n)
