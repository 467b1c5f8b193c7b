"""Monte Carlo false-alarm rate of ``assess`` when re-evaluated after every outcome of a
perfectly calibrated agent (the guarantee documented in docs/calibration.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analytics_engine.calibration_stats import CalibrationStats
from analytics_engine.verdict import assess

ConfidenceSampler = Callable[[np.random.Generator, int], NDArray[np.float64]]


def uniform_confidence(rng: np.random.Generator, size: int) -> NDArray[np.float64]:
    """Confidences uniform on [0.05, 0.95]."""
    return rng.uniform(0.05, 0.95, size)


def high_confidence(rng: np.random.Generator, size: int) -> NDArray[np.float64]:
    """Confidences skewed high, Beta(5, 2) (mean 0.71), as a sales agent's tend to be."""
    return rng.beta(5.0, 2.0, size)


@dataclass(frozen=True)
class FalseAlarmRate:
    """``alarms`` of ``runs`` runs raised a verdict other than insufficient_data/calibrated at
    some point within ``horizon`` outcomes; ``first_alarm`` holds the outcome count of each
    run's first alarm (0 when none)."""

    rate: float
    alarms: int
    runs: int
    horizon: int
    first_alarm: NDArray[np.intp]


def false_alarm_rate(
    *,
    runs: int,
    horizon: int,
    rng: np.random.Generator,
    confidence: ConfidenceSampler = uniform_confidence,
    exhaustive: bool = False,
    n_bins: int = 20,
    **assess_options: Any,
) -> FalseAlarmRate:
    """Share of calibrated runs (``y ~ Bernoulli(p)``) that ``assess(**assess_options)`` ever
    flags when evaluated after each of ``horizon`` outcomes.

    By default ``assess`` is called only at the outcomes where one of its z statistics (kept
    as running sums, with a small margin) reaches the threshold: a necessary condition for
    an alarm, so the result equals evaluating after every outcome. ``exhaustive=True`` does
    call it after every outcome (slow; used to test the shortcut).

    >>> r = false_alarm_rate(runs=5, horizon=300, rng=np.random.default_rng(1))
    >>> r.runs, 0.0 <= r.rate <= 1.0
    (5, True)
    """
    threshold = float(assess_options.get("z_threshold", 3.0))
    min_n = float(assess_options.get("min_n", 100))
    first = np.zeros(runs, dtype=np.intp)
    for run in range(runs):
        p = confidence(rng, horizon)
        y = (rng.random(horizon) < p).astype(np.float64)
        if exhaustive:
            steps = np.arange(1, horizon + 1)
        else:
            steps = _candidate_steps(p, y, threshold=threshold, min_n=min_n)
        stats = CalibrationStats.empty(n_bins)
        done = 0
        for t in steps.tolist():
            stats.add_many(p[done:t], y[done:t])
            done = t
            if assess(stats, **assess_options).is_actionable:
                first[run] = t
                break
    alarms = int(np.count_nonzero(first))
    return FalseAlarmRate(alarms / runs, alarms, runs, horizon, first)


def _candidate_steps(
    p: NDArray[np.float64], y: NDArray[np.float64], *, threshold: float, min_n: float
) -> NDArray[np.intp]:
    """Outcome counts where |z_OE| or |Spiegelhalter Z| is within 1e-6 of the threshold."""
    d = 1.0 - 2.0 * p
    cum_e = np.cumsum(p)
    cum_o = np.cumsum(y)
    cum_var = np.cumsum(p * (1.0 - p))
    cum_num = np.cumsum((y - p) * d)
    cum_svar = np.cumsum(d * d * p * (1.0 - p))
    with np.errstate(divide="ignore", invalid="ignore"):
        z_oe = np.abs(cum_o - cum_e) / np.sqrt(cum_var)
        z_sp = np.abs(cum_num) / np.sqrt(cum_svar)
    n = np.arange(1, p.size + 1)
    hit = (n >= min_n) & ((z_oe >= threshold - 1e-6) | (z_sp >= threshold - 1e-6))
    return n[hit]
