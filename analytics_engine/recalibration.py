"""Monotone recalibration maps p -> calibrated p, fitted on ``CalibrationStats`` bin aggregates.

The method follows the sample size: too few outcomes keep the identity, a medium number fits
Platt scaling (2 parameters, stable), many outcomes fit isotonic regression (no shape
assumption). Maps are non-decreasing, clipped to [0, 1] and serialisable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analytics_engine.calibration_stats import CalibrationStats
from analytics_engine.isotonic import pool_adjacent_violators
from analytics_engine.logistic import fit_logistic

Method = Literal["identity", "histogram", "platt", "isotonic"]
_METHODS = ("identity", "histogram", "platt", "isotonic")
_LOGIT_EPS = 1e-9


def _unit_array(values: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size and not (arr.min() >= 0.0 and arr.max() <= 1.0):
        raise ValueError(f"{name} has values outside [0, 1] or NaN")
    return arr


@dataclass(frozen=True)
class RecalibrationMap:
    """A non-decreasing map from raw confidence to calibrated confidence.

    - ``method``: ``"identity"``, ``"histogram"``, ``"isotonic"`` (piecewise linear through
      the knots ``xs`` -> ``ys``, constant beyond the first and last knot) or ``"platt"``
      (``expit(intercept + slope · logit(p))``, ``slope >= 0``; knots unused).
    - ``n``: outcomes the map was fitted on.
    """

    method: Method
    xs: tuple[float, ...] = (0.0, 1.0)
    ys: tuple[float, ...] = (0.0, 1.0)
    intercept: float = 0.0
    slope: float = 1.0
    n: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {', '.join(_METHODS)}, got {self.method!r}")
        xs = np.asarray(self.xs, dtype=np.float64)
        ys = np.asarray(self.ys, dtype=np.float64)
        if xs.ndim != 1 or xs.shape != ys.shape or xs.size < 1:
            raise ValueError("xs and ys must be non-empty and of the same length")
        if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
            raise ValueError("xs and ys must be finite")
        if (np.diff(xs) < 0).any() or (np.diff(ys) < 0).any():
            raise ValueError("xs and ys must be non-decreasing")
        if xs.min() < 0 or xs.max() > 1 or ys.min() < 0 or ys.max() > 1:
            raise ValueError("xs and ys must lie in [0, 1]")
        if not (math.isfinite(self.intercept) and math.isfinite(self.slope) and self.slope >= 0):
            raise ValueError("intercept must be finite and slope finite and non-negative")

    @overload
    def apply(self, p: float) -> float: ...
    @overload
    def apply(self, p: ArrayLike) -> NDArray[np.float64]: ...
    def apply(self, p: float | ArrayLike) -> float | NDArray[np.float64]:
        """Calibrated confidence of raw confidence ``p`` (vectorised).

        >>> RecalibrationMap("isotonic", xs=(0.2, 0.8), ys=(0.1, 0.5)).apply([0.0, 0.5, 1.0])
        array([0.1, 0.3, 0.5])
        """
        arr = _unit_array(p, "p")
        if self.method == "platt":
            from scipy.special import expit, logit  # on first use: a server idles without scipy

            z = logit(np.clip(arr, _LOGIT_EPS, 1.0 - _LOGIT_EPS))
            out = expit(self.intercept + self.slope * z)
        else:
            out = np.interp(arr, self.xs, self.ys)
        out = np.clip(out, 0.0, 1.0)
        return float(out) if np.ndim(p) == 0 else out

    @overload
    def inverse(self, q: float) -> float: ...
    @overload
    def inverse(self, q: ArrayLike) -> NDArray[np.float64]: ...
    def inverse(self, q: float | ArrayLike) -> float | NDArray[np.float64]:
        """Smallest raw ``p`` in [0, 1] whose calibrated value reaches ``q`` (NaN if none).

        >>> m = RecalibrationMap("isotonic", xs=(0.2, 0.8), ys=(0.1, 0.5))
        >>> m.inverse(0.3), m.inverse(0.05), m.inverse(0.9)
        (0.5, 0.0, nan)
        """
        qa = _unit_array(q, "q")
        lo, hi = self.apply(0.0), self.apply(1.0)
        if self.method == "platt":
            if self.slope > 0:
                from scipy.special import expit, logit

                zq = logit(np.clip(qa, _LOGIT_EPS, 1.0 - _LOGIT_EPS))
                with np.errstate(over="ignore"):  # tiny slopes: expit handles ±inf
                    out = expit((zq - self.intercept) / self.slope)
            else:
                out = np.zeros_like(qa)
        else:
            xs = np.asarray(self.xs)
            ys = np.asarray(self.ys)
            if len(xs) == 1:  # constant map: lo == hi decides every q below
                out = np.zeros_like(qa)
            else:
                i = np.clip(np.searchsorted(ys, qa, side="left"), 1, len(ys) - 1)
                x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
                rise = np.where(y1 > y0, y1 - y0, 1.0)
                with np.errstate(over="ignore"):  # subnormal rises: the clip handles inf
                    out = x0 + np.clip((qa - y0) / rise, 0.0, 1.0) * (x1 - x0)
        out = np.where(qa <= lo, 0.0, np.where(qa > hi, np.nan, out))
        return float(out) if np.ndim(q) == 0 else out

    def points(self, k: int = 21) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``k`` evenly spaced raw confidences in [0, 1] and their calibrated values."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise ValueError(f"k must be an integer >= 2, got {k!r}")
        grid = np.linspace(0.0, 1.0, k)
        return grid, self.apply(grid)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; ``from_dict`` inverts it exactly."""
        return {
            "method": self.method,
            "xs": [float(v) for v in self.xs],
            "ys": [float(v) for v in self.ys],
            "intercept": float(self.intercept),
            "slope": float(self.slope),
            "n": float(self.n),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecalibrationMap:
        if "method" not in data:
            raise ValueError("method is missing")
        return cls(
            method=data["method"],
            xs=tuple(float(v) for v in data.get("xs", (0.0, 1.0))),
            ys=tuple(float(v) for v in data.get("ys", (0.0, 1.0))),
            intercept=float(data.get("intercept", 0.0)),
            slope=float(data.get("slope", 1.0)),
            n=float(data.get("n", 0.0)),
        )

    @classmethod
    def identity(cls, *, n: float = 0.0) -> RecalibrationMap:
        return cls("identity", n=n)


def fit_recalibration(
    stats: CalibrationStats,
    *,
    method: Literal["auto", "identity", "histogram", "platt", "isotonic"] = "auto",
    min_n: float = 100,
    isotonic_min_n: float = 2000,
    prior_strength: float = 10.0,
) -> RecalibrationMap:
    """Fit a monotone recalibration map on the bin aggregates of ``stats``.

    ``method="auto"`` chooses by the number of outcomes ``n``: ``identity`` below ``min_n``,
    ``platt`` below ``isotonic_min_n``, ``isotonic`` above.

    - ``histogram``: per non-empty bin ``(Σy + m·p̄) / (n_k + m)``, the observed rate shrunk
      towards the identity with ``m = prior_strength`` pseudo-outcomes (a Beta prior centred
      on the bin's mean confidence), made monotone by PAV (Zadrozny & Elkan 2001 binning).
    - ``platt``: ``logit q = a + b · logit p̄_k``, a binomial GLM of the bin rates ``ȳ_k`` with
      ``var_weights = n_k`` (``logistic.fit_logistic``, statsmodels' IRLS; Platt 1999, Cox
      1958). Fitting on bin means
      approximates the per-outcome fit and equals it when each bin holds one confidence
      value. ``b < 0`` (no usable signal) falls back to the constant ``ȳ``; a failed fit (e.g.
      separation) or fewer than 3 non-empty bins falls back to ``histogram``.
    - ``isotonic``: PAV of ``ȳ_k`` on ``p̄_k`` with weights ``n_k`` (Zadrozny & Elkan 2002),
      interpolated linearly between knots (as scikit-learn's ``IsotonicRegression``).

    >>> s = CalibrationStats.from_arrays([0.9] * 3000, [1.0] * 1800 + [0.0] * 1200)
    >>> m = fit_recalibration(s)
    >>> m.method, round(m.apply(0.9), 3)
    ('isotonic', 0.6)
    """
    if not isinstance(stats, CalibrationStats):
        raise ValueError(f"stats must be CalibrationStats, got {type(stats).__name__}")
    if method not in ("auto", *_METHODS):
        raise ValueError(f"method must be 'auto' or one of {', '.join(_METHODS)}, got {method!r}")
    if not prior_strength > 0:
        raise ValueError(f"prior_strength must be positive, got {prior_strength!r}")
    n = stats.n
    if method == "auto":
        method = "identity" if n < min_n else "platt" if n < isotonic_min_n else "isotonic"
    if method == "identity" or not n > 0:
        return RecalibrationMap.identity(n=n)
    nz = stats.count > 0
    c = stats.count[nz]
    sy = np.minimum(stats.sum_y[nz], c)
    x = np.clip(stats.sum_p[nz] / c, 0.0, 1.0)
    x = np.maximum.accumulate(x)  # guards against rounding; bin means are already sorted
    if method == "platt":
        fitted = _fit_platt(x, sy / c, c, n)
        if fitted is not None:
            return fitted
        method = "histogram"
    if method == "histogram":
        ys = pool_adjacent_violators(
            (sy + prior_strength * x) / (c + prior_strength), c + prior_strength
        )
    else:
        ys = pool_adjacent_violators(sy / c, c)
    ys = np.clip(ys, 0.0, 1.0)
    return RecalibrationMap(method, tuple(x.tolist()), tuple(ys.tolist()), n=n)


def _fit_platt(
    x: NDArray[np.float64], rate: NDArray[np.float64], weight: NDArray[np.float64], n: float
) -> RecalibrationMap | None:
    if x.size < 3:
        return None
    from scipy.special import logit

    z = logit(np.clip(x, _LOGIT_EPS, 1.0 - _LOGIT_EPS))
    exog = np.column_stack((np.ones_like(z), z))
    try:
        fit = fit_logistic(exog, rate, weight)
    except (ValueError, np.linalg.LinAlgError):
        return None
    if fit.perfect_prediction or not fit.converged:
        return None  # separated or not converged: the parameters are not identified
    a, b = (float(v) for v in fit.params)
    if not (math.isfinite(a) and math.isfinite(b)) or abs(a) > 50 or abs(b) > 50:
        return None
    if b < 0:
        ybar = float(np.sum(rate * weight) / np.sum(weight))
        a, b = float(logit(min(max(ybar, _LOGIT_EPS), 1.0 - _LOGIT_EPS))), 0.0
    return RecalibrationMap("platt", intercept=a, slope=b, n=n)
