"""Anytime-valid calibration monitoring: an e-process that tests, by betting, that an agent's
outcomes match its stated confidence, valid however often it is looked at and for any horizon.

The null hypothesis is calibration given the past: ``E[y_t | past, p_t] = p_t`` for every
outcome ``t``. A bettor starts with wealth 1 and, before seeing ``y_t``, stakes a fraction of
its wealth on the residual ``y_t − p_t``: its wealth is multiplied by ``1 + b_t (y_t − p_t)``,
``b_t`` chosen from the past outcomes and the current ``p_t`` only, truncated so that the factor
stays positive. Under the null each factor has mean 1, so the wealth is a non-negative
martingale and, by Ville's inequality (Ville 1939), ``P(wealth ever reaches 1/α) ≤ α``: raising
an alarm when it does has false-alarm probability at most ``α`` over the whole, unbounded
sequence of looks (Waudby-Smith & Ramdas 2023, "Estimating means of bounded random variables by
betting", JRSS B 86; Shafer & Vovk 2019 for testing by betting).

Four bettors share the wealth equally, so the e-value is the mean of four martingales (itself a
martingale): calibration in the large (``b ∝ 1``, betting that outcomes run above or below the
confidence) and the calibration slope (``b ∝ logit p``, betting that the confidence is too
extreme or too timid: the direction of the Kelly bet ``(q − p)/(p(1 − p)) ≈ (1/T − 1)·logit p``
against a temperature-``T`` distortion), each in both directions. Each bettor's stake follows
the approximate growth-rate adaptive bet (aGRAPA) of Waudby-Smith & Ramdas (2023, §B.2):
``λ_t = μ̂_{t−1} / (σ̂²_{t−1} + μ̂²_{t−1})`` for the running mean and variance of its own
payoffs, kept in ``[0, c/p]`` or ``[0, c/(1 − p)]`` with ``c = 1/2``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

_TRUNCATION = 0.5  # c: at most half of the wealth the factor could lose is staked
_PRIOR_VARIANCE = 0.25  # one pseudo-outcome of payoff variance: tames the first bets
_LOGIT_CLIP = 1e-6
_BETTORS = ("above", "below", "timid", "extreme")

Direction = Literal["above", "below", "timid", "extreme"]


@dataclass(frozen=True)
class CalibrationMonitor:
    """The running state of the calibration e-process for one scope (a few floats to store).

    - ``n``: outcomes seen;
    - ``sum_large``, ``sum_sq_large``: sums of ``y − p`` and its square (the in-the-large
      bettors' payoffs); ``sum_slope``, ``sum_sq_slope``: the same of ``(y − p)·logit p``;
    - ``log_wealth``: the four bettors' log wealth, in the order ``above`` (outcomes above the
      confidence: underconfident), ``below`` (overconfident), ``timid`` (confidence not
      extreme enough) and ``extreme`` (too extreme: overconfident at both ends);
    - ``max_log_e``: the largest log e-value so far (for the anytime p-value).

    >>> m = CalibrationMonitor().update([0.9] * 200, [1.0] * 120 + [0.0] * 80)
    >>> m.alarm(alpha=0.05), m.e_value > 20, m.p_value < 0.05
    (True, True, True)
    """

    n: float = 0.0
    sum_large: float = 0.0
    sum_sq_large: float = 0.0
    sum_slope: float = 0.0
    sum_sq_slope: float = 0.0
    log_wealth: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    max_log_e: float = 0.0

    @property
    def e_value(self) -> float:
        """The current e-value: the mean wealth of the four bettors (1 at the start)."""
        top = max(self.log_wealth)
        return math.exp(top) * sum(math.exp(w - top) for w in self.log_wealth) / 4.0

    @property
    def p_value(self) -> float:
        """Anytime-valid p-value ``min(1, 1 / max_t e_t)``: ``P(p_value ≤ α) ≤ α`` under
        calibration, whenever it is read."""
        return min(1.0, math.exp(-self.max_log_e))

    def alarm(self, *, alpha: float = 0.05) -> bool:
        """True once the e-value has reached ``1/alpha`` (at most ``alpha`` false alarms over
        any number of looks and outcomes)."""
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        return self.max_log_e >= math.log(1.0 / alpha)

    @property
    def direction(self) -> Direction:
        """The bettor with the most wealth: which way the evidence points."""
        best = max(range(4), key=lambda i: self.log_wealth[i])
        return _BETTORS[best]  # type: ignore[return-value]

    def update(self, p: float | ArrayLike, y: float | ArrayLike) -> CalibrationMonitor:
        """The state after the outcomes ``y`` (in [0, 1]) of confidences ``p``, in order.

        Vectorised: every bettor's stakes come from cumulative sums of the past payoffs, so a
        batch costs a few numpy passes; updating with a batch equals updating one by one.
        """
        return monitor_calibration(p, y, state=self).state

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; ``from_dict`` inverts it exactly."""
        return {
            "n": self.n,
            "sum_large": self.sum_large,
            "sum_sq_large": self.sum_sq_large,
            "sum_slope": self.sum_slope,
            "sum_sq_slope": self.sum_sq_slope,
            "log_wealth": list(self.log_wealth),
            "max_log_e": self.max_log_e,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationMonitor:
        wealth = tuple(float(v) for v in data["log_wealth"])
        if len(wealth) != 4:
            raise ValueError("log_wealth must hold 4 values")
        return cls(
            n=float(data["n"]),
            sum_large=float(data["sum_large"]),
            sum_sq_large=float(data["sum_sq_large"]),
            sum_slope=float(data["sum_slope"]),
            sum_sq_slope=float(data["sum_sq_slope"]),
            log_wealth=(wealth[0], wealth[1], wealth[2], wealth[3]),
            max_log_e=float(data["max_log_e"]),
        )


@dataclass(frozen=True)
class MonitorTrace:
    """``state`` after the outcomes; ``e_values``: the e-value after each of them;
    ``first_alarm``: the 1-based index of the first outcome after which the e-value reached
    ``1/alpha`` (``None`` if it did not within these outcomes, or had already before them)."""

    state: CalibrationMonitor
    e_values: NDArray[np.float64]
    first_alarm: int | None


def _unit(values: float | ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not (arr.min() >= 0.0 and arr.max() <= 1.0):
        raise ValueError(f"{name} has values outside [0, 1] or NaN")
    return arr


def _stakes(
    payoff: NDArray[np.float64], n0: float, sum0: float, sum_sq0: float
) -> NDArray[np.float64]:
    """aGRAPA's ``λ_t`` from the payoffs before ``t`` (the state's sums, then this batch's)."""
    before = np.concatenate(([0.0], np.cumsum(payoff)[:-1])) + sum0
    before_sq = np.concatenate(([0.0], np.cumsum(payoff * payoff)[:-1])) + sum_sq0
    count = n0 + np.arange(payoff.size) + 1.0  # + 1: the prior pseudo-outcome
    mean = before / count
    variance = (before_sq + _PRIOR_VARIANCE) / count - mean * mean  # > 0 (Cauchy–Schwarz)
    out: NDArray[np.float64] = mean / (variance + mean * mean)
    return out


def monitor_calibration(
    p: float | ArrayLike,
    y: float | ArrayLike,
    *,
    state: CalibrationMonitor | None = None,
    alpha: float = 0.05,
) -> MonitorTrace:
    """Run the calibration e-process over the outcomes ``y`` of confidences ``p`` (in order),
    from ``state`` (a new monitor by default), and report the e-value after every outcome.

    Guarantee: if the agent is calibrated given the past (``E[y_t | past, p_t] = p_t``), the
    probability that the e-value ever reaches ``1/alpha``, at any outcome of an unbounded
    sequence, is at most ``alpha`` (Ville's inequality); no correction for looking after every
    outcome is needed.

    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(2000)
    >>> calibrated = monitor_calibration(p, (rng.random(2000) < p).astype(float))
    >>> calibrated.first_alarm is None, calibrated.state.p_value > 0.05
    (True, True)
    >>> q = np.sqrt(p) / (np.sqrt(p) + np.sqrt(1 - p))  # temperature 2: overconfident
    >>> overconfident = monitor_calibration(p, (rng.random(2000) < q).astype(float))
    >>> overconfident.first_alarm < 500, overconfident.state.direction
    (True, 'extreme')
    """
    pa = _unit(p, "p")
    ya = _unit(y, "y")
    if pa.shape != ya.shape:
        raise ValueError(f"p and y must have the same length, got {pa.size} and {ya.size}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    s = CalibrationMonitor() if state is None else state
    if not isinstance(s, CalibrationMonitor):
        raise ValueError(f"state must be CalibrationMonitor, got {type(s).__name__}")
    if pa.size == 0:
        return MonitorTrace(s, np.zeros(0), None)
    r = ya - pa
    z = np.log(np.clip(pa, _LOGIT_CLIP, 1.0) / np.clip(1.0 - pa, _LOGIT_CLIP, 1.0))
    with np.errstate(divide="ignore", over="ignore"):  # tiny p: no upper bound on the stake
        upper = np.where(pa > 0, _TRUNCATION / pa, np.inf)  # b·r ≥ −c when b ≤ c/p
        lower = np.where(pa < 1, -_TRUNCATION / (1.0 - pa), -np.inf)
    logs = []
    for weight, total, total_sq in (
        (np.ones_like(pa), s.sum_large, s.sum_sq_large),
        (z, s.sum_slope, s.sum_sq_slope),
    ):
        lam = _stakes(r * weight, s.n, total, total_sq)
        for sign in (1.0, -1.0):
            bet = np.clip(np.maximum(sign * lam, 0.0) * sign * weight, lower, upper)
            logs.append(np.cumsum(np.log1p(bet * r)))
    # bettors ordered above, below (in the large), timid, extreme (slope): a positive slope
    # payoff (y − p)·logit p means outcomes beyond the confidence, i.e. too timid
    paths = np.array(logs) + np.asarray(s.log_wealth)[:, None]
    top = paths.max(axis=0)
    log_e = top + np.log(np.exp(paths - top).mean(axis=0))
    running_max = np.maximum.accumulate(np.maximum(log_e, s.max_log_e))
    threshold = math.log(1.0 / alpha)
    crossed = np.nonzero(running_max >= threshold)[0]
    first = int(crossed[0]) + 1 if crossed.size and s.max_log_e < threshold else None
    new = CalibrationMonitor(
        n=s.n + pa.size,
        sum_large=s.sum_large + float(r.sum()),
        sum_sq_large=s.sum_sq_large + float((r * r).sum()),
        sum_slope=s.sum_slope + float((r * z).sum()),
        sum_sq_slope=s.sum_sq_slope + float((r * z * r * z).sum()),
        log_wealth=(
            float(paths[0, -1]),
            float(paths[1, -1]),
            float(paths[2, -1]),
            float(paths[3, -1]),
        ),
        max_log_e=float(running_max[-1]),
    )
    return MonitorTrace(new, np.exp(log_e), first)
