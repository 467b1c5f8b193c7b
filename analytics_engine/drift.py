"""Following drift: exponentially forgotten statistics of an outcome stream, and a change
detector on the residuals of the current recalibration map that says when, and from which
outcome, to restart the fit.

The detector is a Shiryaev–Roberts e-detector (Shin, Ramdas & Rinaldo 2023, "E-detectors: a
nonparametric framework for sequential change detection", NEJSDS 2; Pollak 1985 for the
Shiryaev–Roberts statistic). Each bettor ``k`` stakes, before ``y_t`` is seen, a fixed
fraction ``b_t = λ_k g_k(q_t)`` on the residual ``y_t − q_t`` of the *current* map's calibrated
confidence ``q_t``; its factor ``L_t = 1 + b_t (y_t − q_t)`` has mean 1 while the map is right.
The statistic ``R_t = (R_{t−1} + 1) L_t`` (``R_0 = 0``) is the sum over every start ``j ≤ t``
of the bettor's wealth since ``j``; the detector's statistic is their mean over the bettors.
While the map is calibrated ``M_t − t`` is a martingale, so the alarm time ``τ`` (``M_τ ≥ A``)
has ``E[τ] ≥ A`` (optional stopping): on average at least ``A`` outcomes between false alarms.

After an alarm the fit restarts on the outcomes after the estimated change, shrunk toward the
agent's own map before it (``change_prior``): a change is rarely total, and a false alarm then
costs little, since the outcomes after it agree with the old map.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analytics_engine.binning import bins_of
from analytics_engine.calibration_batch import LOG_EPS
from analytics_engine.calibration_stats import DEFAULT_N_BINS, STAT_FIELDS, CalibrationStats
from analytics_engine.pooling import GroupPrior, sibling_fits

_TRUNCATION = 0.5  # at most half of what the factor could lose is staked: L_t ≥ 1/2
_LOGIT_CLIP = 1e-6
# (payoff weight, stake size) of each bettor: in the large (g = ±1) and the calibration slope
# (g = ±logit q: the map is too timid or too extreme), each at two fixed sizes. Fixed stakes
# lose wealth on a map that is only slightly off, so the noise of a fitted map is not a change.
_SIGNS = (1.0, -1.0)
_SIZES = (0.5, 1.0)
N_BETTORS = 2 * len(_SIGNS) * len(_SIZES)
DEFAULT_THRESHOLD = 1000.0  # chosen by bench/calibration_drift.py (docs/calibration.md)
# A map fitted on fewer of the agent's outcomes is still learning (each outcome moves it): its
# residuals are not watched, or a new agent's unfitted map would read as a change.
MIN_FITTED = 100
# How far, on the logit scale, a changed agent's map is expected to move from its map before
# the change (the prior's spread added to that map's own uncertainty; chosen by the bench).
CHANGE_SPREAD = 0.25


def forgetting_factor(half_life: float) -> float:
    """Per-outcome weight ``0.5 ** (1 / half_life)`` that gives an outcome half its weight
    after ``half_life`` further outcomes (1 for ``math.inf``: nothing is forgotten).

    >>> forgetting_factor(1.0), forgetting_factor(math.inf)
    (0.5, 1.0)
    """
    if not half_life > 0 or math.isnan(half_life):
        raise ValueError(f"half_life must be positive (math.inf: no forgetting), got {half_life!r}")
    return 1.0 if math.isinf(half_life) else 0.5 ** (1.0 / half_life)


def _unit(values: float | ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not (arr.min() >= 0.0 and arr.max() <= 1.0):
        raise ValueError(f"{name} has values outside [0, 1] or NaN")
    return arr


def decay_weights(n: int, *, half_life: float) -> NDArray[np.float64]:
    """Weight of each of ``n`` outcomes, oldest first, after the last one: outcome ``i``
    weighs ``0.5 ** ((n − 1 − i) / half_life)``.

    >>> decay_weights(3, half_life=1.0).tolist()
    [0.25, 0.5, 1.0]
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    forgetting_factor(half_life)  # validates
    if math.isinf(half_life):
        return np.ones(int(n))
    age = np.arange(int(n) - 1, -1, -1, dtype=np.float64)
    out: NDArray[np.float64] = 0.5 ** (age / half_life)
    return out


def decayed_stats(
    p: ArrayLike, y: ArrayLike, *, half_life: float, n_bins: int = DEFAULT_N_BINS
) -> CalibrationStats:
    """``CalibrationStats`` of the outcomes ``(p[i], y[i])`` (oldest first) with exponential
    forgetting: every sum weighs outcome ``i`` by ``decay_weights(n, half_life=...)[i]``, as if
    the statistics had been multiplied by ``forgetting_factor(half_life)`` before each new
    outcome was added (``CalibrationStats.decayed``). ``half_life=math.inf`` gives the plain
    statistics. The backend keeps the same thing per day (``combine_with_half_life`` over the
    daily rollups), with the half-life in days: ``half_life`` outcomes over outcomes per day.

    >>> s = decayed_stats([0.8, 0.8, 0.8], [1.0, 0.0, 1.0], half_life=1.0)
    >>> s.n, float(s.sum_y.sum())
    (1.75, 1.25)
    """
    pa = _unit(p, "p")
    ya = _unit(y, "y")
    if pa.shape != ya.shape:
        raise ValueError(f"p and y must have the same length, got {pa.size} and {ya.size}")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    w = decay_weights(pa.size, half_life=half_life)
    pc = np.clip(pa, LOG_EPS, 1.0 - LOG_EPS)
    d = 1.0 - 2.0 * pa
    values = (
        np.ones_like(pa),
        pa,
        pa * pa,
        ya,
        ya * ya,
        pa * ya,
        (pa - ya) ** 2,
        -(ya * np.log(pc) + (1.0 - ya) * np.log1p(-pc)),
        (ya - pa) * d,
        d * d * pa * (1.0 - pa),
    )
    bins = bins_of(pa, n_bins)
    table = np.array([np.bincount(bins, weights=w * v, minlength=n_bins) for v in values])
    assert table.shape[0] == len(STAT_FIELDS)
    return CalibrationStats(table)


@dataclass(frozen=True)
class ChangeDetector:
    """The running state of the change detector for one scope (``2 · N_BETTORS + 1`` numbers).

    - ``n``: outcomes seen since the detector (re)started;
    - ``log_c``: per bettor, the log of its CUSUM statistic (0 at the start);
    - ``start``: per bettor, how many outcomes came before its current run of wealth (the
      outcome after which its CUSUM last restarted from 1): the change point it estimates.
    """

    n: int = 0
    log_c: tuple[float, ...] = (0.0,) * N_BETTORS
    start: tuple[int, ...] = (0,) * N_BETTORS

    def __post_init__(self) -> None:
        if len(self.log_c) != N_BETTORS or len(self.start) != N_BETTORS:
            raise ValueError(f"log_c and start must hold {N_BETTORS} values each")

    @property
    def statistic(self) -> float:
        """``M``: the mean of the bettors' CUSUM statistics (1 at the start)."""
        top = max(self.log_c)
        return math.exp(top) * sum(math.exp(v - top) for v in self.log_c) / N_BETTORS

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; ``from_dict`` inverts it exactly."""
        return {"n": self.n, "log_c": list(self.log_c), "start": list(self.start)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChangeDetector:
        return cls(
            n=int(data["n"]),
            log_c=tuple(float(v) for v in data["log_c"]),
            start=tuple(int(v) for v in data["start"]),
        )


@dataclass(frozen=True)
class ChangeTrace:
    """What ``detect_change`` saw.

    - ``state``: the detector after the outcomes (carried on past an alarm: start a new
      ``ChangeDetector()`` when the fit restarts);
    - ``statistic``: ``M`` after each outcome;
    - ``alarm``: the 1-based index, within these outcomes, of the first outcome after which
      ``M`` reached the threshold (``None``: no alarm);
    - ``change_point``: at the alarm, how many outcomes (counted from the detector's start)
      came before the estimated change: refit on the outcomes after it.
    """

    state: ChangeDetector
    statistic: NDArray[np.float64]
    alarm: int | None
    change_point: int | None


def detect_change(
    q: float | ArrayLike,
    y: float | ArrayLike,
    *,
    state: ChangeDetector | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> ChangeTrace:
    """Run the change detector over outcomes ``y`` (in [0, 1]) of calibrated confidences ``q``
    (the current map applied to the raw confidence, fixed before each outcome), in order.

    Each bettor's CUSUM is ``C_t = max(C_{t−1}, 1) · L_t``: its largest wealth over every
    start, and it restarts after the outcome where its wealth was lowest, which estimates the
    change point (Page 1954; as an e-detector, Shin, Ramdas & Rinaldo 2023). ``M`` is the mean
    of the bettors' CUSUMs.

    Guarantee: ``C_t`` is at most the Shiryaev–Roberts statistic ``R_t = (R_{t−1} + 1) L_t``,
    and while the map is calibrated given the past, the mean of the bettors' ``R_t − t`` is a
    martingale; so ``E[first alarm] ≥ threshold`` outcomes (optional stopping). After a change
    worth ``g`` nats per outcome to the best bettor the delay is about
    ``log(threshold · N_BETTORS) / g`` (temperature 1 to 2 with uniform confidence: ``g`` 0.041).

    >>> rng = np.random.default_rng(1)
    >>> q = rng.random(4000)
    >>> steady = detect_change(q[:2000], (rng.random(2000) < q[:2000]).astype(float))
    >>> steady.alarm is None
    True
    >>> hot = 1 / (1 + np.sqrt((1 - q[2000:]) / q[2000:]))  # temperature 2: q too extreme
    >>> changed = detect_change(q[2000:], (rng.random(2000) < hot).astype(float),
    ...                         state=steady.state)
    >>> changed.alarm < 400, abs(changed.change_point - 2000) < 200
    (True, True)
    """
    qa = _unit(q, "q")
    ya = _unit(y, "y")
    if qa.shape != ya.shape:
        raise ValueError(f"q and y must have the same length, got {qa.size} and {ya.size}")
    if not threshold > 1 or math.isinf(threshold):
        raise ValueError(f"threshold must be finite and greater than 1, got {threshold!r}")
    s = ChangeDetector() if state is None else state
    if not isinstance(s, ChangeDetector):
        raise ValueError(f"state must be ChangeDetector, got {type(s).__name__}")
    if qa.size == 0:
        return ChangeTrace(s, np.zeros(0), None, None)
    r = ya - qa
    z = np.log(np.clip(qa, _LOGIT_CLIP, 1.0) / np.clip(1.0 - qa, _LOGIT_CLIP, 1.0))
    with np.errstate(divide="ignore", over="ignore"):  # q near 0 or 1: no bound that side
        upper = np.where(qa > 0, _TRUNCATION / qa, np.inf)
        lower = np.where(qa < 1, -_TRUNCATION / (1.0 - qa), -np.inf)
    steps = []
    for weight in (np.ones_like(qa), z):
        for sign in _SIGNS:
            for size in _SIZES:
                bet = np.clip(sign * size * weight, lower, upper)
                steps.append(np.log1p(bet * r))
    wealth = np.cumsum(np.array(steps), axis=1)  # (bettors, outcomes): log wealth in the batch
    # log C_t = W_t − min(−max(log C_0, 0), W_1, ..., W_{t−1}) unrolls max(C_{t−1}, 1) · L_t
    carried = np.asarray(s.log_c)
    floors = np.concatenate((-np.maximum(carried, 0.0)[:, None], wealth[:, :-1]), axis=1)
    lowest = np.minimum.accumulate(floors, axis=1)
    log_c = wealth - lowest
    top = log_c.max(axis=0)
    log_m = top + np.log(np.exp(log_c - top).mean(axis=0))
    old_start = np.where(carried > 0, np.asarray(s.start), s.n)

    def starts(upto: int) -> NDArray[np.intp]:
        """Each bettor's run start after the first ``upto`` outcomes of the batch: the last
        lowest point of its wealth, in outcomes since the detector's start."""
        window = floors[:, :upto]
        last = upto - 1 - np.argmin(window[:, ::-1], axis=1)
        out: NDArray[np.intp] = np.where(last == 0, old_start, s.n + last)
        return out

    crossed = np.nonzero(log_m >= math.log(threshold))[0]
    alarm = int(crossed[0]) + 1 if crossed.size else None
    change_point = None
    if alarm is not None:
        leader = int(np.argmax(log_c[:, alarm - 1]))
        change_point = int(starts(alarm)[leader])
    new = ChangeDetector(
        n=s.n + qa.size,
        log_c=tuple(float(v) for v in log_c[:, -1]),
        start=tuple(int(v) for v in starts(qa.size)),
    )
    return ChangeTrace(new, np.exp(log_m), alarm, change_point)


def change_prior(before: CalibrationStats, *, spread: float = CHANGE_SPREAD) -> GroupPrior | None:
    """The prior for an agent's map after a change: its own Platt fit on the outcomes before
    the change, ``N(θ̂, V + spread² I)`` with ``V`` that fit's covariance (inverse Fisher
    information), ``origin="past"``. Fit the outcomes after the change under it with
    ``pooling.fit_pooled_recalibration(after, prior)`` (no conflict check for this prior):
    they take over by their weight, as fast as they disagree. ``None`` when the outcomes before
    the change have no identified Platt fit (then the fit simply restarts).

    >>> rng = np.random.default_rng(3)
    >>> p = rng.random(2000)
    >>> prior = change_prior(CalibrationStats.from_arrays(p, rng.random(2000) < p))
    >>> prior.origin, prior.mean.round(1).tolist(), round(float(prior.between[1, 1]) ** 0.5, 2)
    ('past', [0.0, 1.0], 0.25)
    """
    if not isinstance(before, CalibrationStats):
        raise ValueError(f"before must be CalibrationStats, got {type(before).__name__}")
    if not spread > 0 or math.isinf(spread):
        raise ValueError(f"spread must be positive and finite, got {spread!r}")
    fits = sibling_fits([before])
    if not fits.params.shape[0]:
        return None
    between = fits.covariances[0] + spread**2 * np.eye(2)
    return GroupPrior(mean=fits.params[0], between=between, n_agents=1, n=fits.n, origin="past")
