"""Reliability diagrams from ``CalibrationStats``: the binned curve with intervals, and the
CORP curve with its score decomposition."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analytics_engine.binning import bin_edges
from analytics_engine.calibration_stats import CalibrationStats, require_outcomes
from analytics_engine.intervals import jeffreys_interval, wilson_interval
from analytics_engine.isotonic import pool_adjacent_violators


@dataclass(frozen=True)
class ReliabilityCurve:
    """Per fixed bin (all ``n_bins``, empty ones included), arrays of shape ``(n_bins,)``.

    - ``bin_lower``, ``bin_upper``: bin edges, ``np.linspace(0, 1, n_bins + 1)``; bin ``k`` holds
      ``(bin_lower, bin_upper]``, the first one 0 too (scikit-learn's bins, ``binning``).
    - ``count``: outcomes in the bin (weights if decayed); 0 for empty bins.
    - ``mean_confidence``: ``Σp / count``; ``observed_rate``: ``Σy / count`` (NaN if empty).
    - ``wilson_lower``/``wilson_upper`` and ``jeffreys_lower``/``jeffreys_upper``: ``1 - alpha``
      intervals of the observed rate, treating ``Σy`` successes out of ``count`` (the whole
      [0, 1] for empty bins).
    """

    bin_lower: NDArray[np.float64]
    bin_upper: NDArray[np.float64]
    count: NDArray[np.float64]
    mean_confidence: NDArray[np.float64]
    observed_rate: NDArray[np.float64]
    wilson_lower: NDArray[np.float64]
    wilson_upper: NDArray[np.float64]
    jeffreys_lower: NDArray[np.float64]
    jeffreys_upper: NDArray[np.float64]
    alpha: float


def reliability_curve(stats: CalibrationStats, *, alpha: float = 0.05) -> ReliabilityCurve:
    """Reliability diagram data: mean confidence against observed rate per bin, with Wilson
    (1927) and Jeffreys (Brown, Cai & DasGupta 2001) intervals.

    >>> c = reliability_curve(CalibrationStats.from_arrays([0.81, 0.85, 0.1], [1.0, 0.0, 0.0],
    ...                                                     n_bins=5))
    >>> c.count.tolist(), float(c.observed_rate[4]), round(float(c.mean_confidence[4]), 2)
    ([1.0, 0.0, 0.0, 0.0, 2.0], 0.5, 0.83)
    """
    require_outcomes(stats)
    c = stats.count
    sy = np.minimum(stats.sum_y, c)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_p = np.where(c > 0, stats.sum_p / c, np.nan)
    wilson = wilson_interval(sy, c, alpha=alpha)
    jeffreys = jeffreys_interval(sy, c, alpha=alpha)
    edges = bin_edges(stats.n_bins)
    return ReliabilityCurve(
        bin_lower=edges[:-1],
        bin_upper=edges[1:],
        count=c.copy(),
        mean_confidence=mean_p,
        observed_rate=wilson.estimate,
        wilson_lower=wilson.lower,
        wilson_upper=wilson.upper,
        jeffreys_lower=jeffreys.lower,
        jeffreys_upper=jeffreys.upper,
        alpha=alpha,
    )


@dataclass(frozen=True)
class CorpReliability:
    """CORP reliability curve and Brier score decomposition of the *binned forecast*.

    The binned forecast replaces every confidence ``p`` by the mean confidence ``p̄_k`` of its
    fixed bin; it is what per-bin sums can describe exactly. Over its non-empty bins (sorted
    by ``p̄_k``, which equal-width bins already are):

    - ``mean_confidence``: ``p̄_k``; ``count``: ``n_k``; ``observed_rate``: ``ȳ_k``.
    - ``calibrated``: the PAV (isotonic) fit of ``ȳ_k`` on ``p̄_k`` with weights ``n_k``: the
      CORP reliability curve, a step function through ``(p̄_k, calibrated_k)``.
    - ``score``: Brier score of the binned forecast, ``S(F)`` (equals
      ``BrierDecomposition.binned_brier``; the raw Brier score adds WBV − WBC).
    - ``mcb = S(F) − S(C)``: miscalibration, ``S(C)`` the score of the PAV-recalibrated forecast.
    - ``dsc = S(R) − S(C)``: discrimination, ``S(R)`` the score of always forecasting ``ȳ``.
    - ``unc = S(R)``: uncertainty (variance of the outcomes).

    ``score = mcb − dsc + unc`` holds exactly (to rounding) and ``mcb, dsc >= 0``
    (Dimitriadis, Gneiting & Jordan 2021, PNAS 118:e2016191118, eq. 4).
    """

    mean_confidence: NDArray[np.float64]
    calibrated: NDArray[np.float64]
    observed_rate: NDArray[np.float64]
    count: NDArray[np.float64]
    score: float
    mcb: float
    dsc: float
    unc: float
    n: float


def corp_reliability(stats: CalibrationStats) -> CorpReliability:
    """CORP (consistent, optimally binned, reproducible) reliability on bin aggregates.

    >>> s = CalibrationStats.from_arrays([0.2, 0.2, 0.6, 0.6, 0.9], [0.0, 1.0, 0.0, 0.0, 1.0],
    ...                                  n_bins=10)
    >>> r = corp_reliability(s)
    >>> r.calibrated.tolist()  # bins 0.2 and 0.6 pool: (1 + 0) / 4
    [0.25, 0.25, 1.0]
    >>> abs(r.score - (r.mcb - r.dsc + r.unc)) < 1e-12
    True
    """
    n = require_outcomes(stats)
    nz = stats.count > 0
    c = stats.count[nz]
    sy = stats.sum_y[nz]
    sy2 = float(stats.sum_y2[nz].sum())
    x = stats.sum_p[nz] / c
    ybar_k = sy / c
    fitted = pool_adjacent_violators(ybar_k, c)
    ybar = float(sy.sum()) / n

    def score(forecast: NDArray[np.float64]) -> float:
        # Σ_k Σ_{i∈k} (f_k − y_i)² = Σ_k (n_k f_k² − 2 f_k Σy) + Σy²
        return (float(np.sum(c * forecast * forecast - 2.0 * forecast * sy)) + sy2) / n

    s_f = score(x)
    s_c = score(fitted)
    s_r = score(np.full_like(x, ybar))
    return CorpReliability(
        mean_confidence=x,
        calibrated=fitted,
        observed_rate=ybar_k,
        count=c.copy(),
        score=s_f,
        mcb=s_f - s_c,
        dsc=s_r - s_c,
        unc=s_r,
        n=n,
    )
