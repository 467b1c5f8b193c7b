"""Confidence intervals for binomial proportions (Wilson score, Jeffreys), vectorised, and the
Wilson interval of one proportion in plain floats (``wilson_bounds``: the same arithmetic in
the same order, so the same bits, without numpy's per-call cost).

Both accept fractional success counts, so they also serve normalised ordinal outcomes in [0, 1]
summed per bin (the count of "successes" is then the sum of the normalised values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class ProportionInterval:
    """Point estimate and two-sided interval of a proportion; arrays of one shape.

    Where ``count`` is 0 the estimate is NaN and the interval is the whole of [0, 1].
    """

    estimate: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


@lru_cache(maxsize=16)
def _z(alpha: float) -> float:
    """The two-sided normal quantile ``z_{1 - alpha/2}`` (1.959963984540054 for 0.05)."""
    from scipy.special import ndtri  # on first use: a server idles without scipy

    return -float(ndtri(alpha / 2.0))


def _validated(
    successes: ArrayLike, count: ArrayLike, alpha: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    _check_alpha(alpha)
    x = np.asarray(successes, dtype=np.float64)
    n = np.asarray(count, dtype=np.float64)
    if x.shape != n.shape:
        raise ValueError(f"successes and count have different shapes: {x.shape} and {n.shape}")
    if not np.isfinite(x).all():
        raise ValueError("successes contains NaN or infinite values")
    if not np.isfinite(n).all():
        raise ValueError("count contains NaN or infinite values")
    if (n < 0).any():
        raise ValueError("count has negative values")
    if (x < 0).any() or (x > n * (1 + 1e-12) + 1e-12).any():
        raise ValueError("successes has values outside [0, count]")
    return np.minimum(x, n), n


def wilson_interval(
    successes: ArrayLike, count: ArrayLike, *, alpha: float = 0.05
) -> ProportionInterval:
    """Wilson score interval (Wilson 1927; Brown, Cai & DasGupta 2001, eq. 4).

    Matches ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.

    >>> ci = wilson_interval([8], [10])
    >>> round(float(ci.lower[0]), 4), round(float(ci.upper[0]), 4)
    (0.4902, 0.9433)
    """
    x, n = _validated(successes, count, alpha)
    z = _z(alpha)
    z2 = z * z
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        denom = n + z2
        center = (x + z2 / 2.0) / denom
        half = z / denom * np.sqrt(np.maximum(x * (n - x) / n, 0.0) + z2 / 4.0)
    empty = n == 0
    # At x = 0 (x = n) the lower (upper) end is exactly 0 (1): pinned, so that rounding
    # (5.6e-17 at 0 of 1; statsmodels' too) never leaves the rate outside its interval.
    lower = np.where(empty | (x <= 0), 0.0, np.clip(center - half, 0.0, 1.0))
    upper = np.where(empty | (x >= n), 1.0, np.clip(center + half, 0.0, 1.0))
    return ProportionInterval(estimate=np.where(empty, np.nan, p), lower=lower, upper=upper)


def wilson_bounds(
    successes: float, count: float, *, alpha: float = 0.05
) -> tuple[float, float, float]:
    """``(estimate, lower, upper)`` of one proportion: ``wilson_interval([successes], [count])``
    in plain floats, bit for bit (the same operations in the same order; IEEE sqrt is exact
    to the ulp in numpy and ``math`` alike). The scalar path of the dashboards' many rates.

    >>> e, lo, hi = wilson_bounds(8, 10)
    >>> e, round(lo, 4), round(hi, 4)
    (0.8, 0.4902, 0.9433)
    >>> wilson_bounds(0, 0)
    (nan, 0.0, 1.0)
    """
    _check_alpha(alpha)
    x, n = float(successes), float(count)
    if not math.isfinite(x):
        raise ValueError("successes contains NaN or infinite values")
    if not math.isfinite(n):
        raise ValueError("count contains NaN or infinite values")
    if n < 0:
        raise ValueError("count has negative values")
    if x < 0 or x > n * (1 + 1e-12) + 1e-12:
        raise ValueError("successes has values outside [0, count]")
    if n == 0:
        return math.nan, 0.0, 1.0
    x = min(x, n)
    z = _z(alpha)
    z2 = z * z
    denom = n + z2
    center = (x + z2 / 2.0) / denom
    half = z / denom * math.sqrt(max(x * (n - x) / n, 0.0) + z2 / 4.0)
    lower = 0.0 if x <= 0 else min(max(center - half, 0.0), 1.0)
    upper = 1.0 if x >= n else min(max(center + half, 0.0), 1.0)
    return x / n, lower, upper


def jeffreys_interval(
    successes: ArrayLike, count: ArrayLike, *, alpha: float = 0.05
) -> ProportionInterval:
    """Jeffreys interval: equal-tailed Beta(x + 1/2, n - x + 1/2) posterior interval
    (Brown, Cai & DasGupta 2001, sec. 4.1.2), with the lower end 0 when x = 0 and the upper 1
    when x = n, as Brown, Cai & DasGupta recommend. Inside (0 < x < n) it matches
    ``statsmodels.stats.proportion.proportion_confint(method="jeffreys")``, which does not
    apply that boundary modification.

    >>> ci = jeffreys_interval([8], [10])
    >>> round(float(ci.lower[0]), 4), round(float(ci.upper[0]), 4)
    (0.4972, 0.9559)
    """
    x, n = _validated(successes, count, alpha)
    a = x + 0.5
    b = n - x + 0.5
    # scipy.special directly: the same quantiles as scipy.stats.beta.ppf, without its overhead
    from scipy.special import betaincinv

    lower = np.where(x <= 0, 0.0, betaincinv(a, b, alpha / 2.0))
    upper = np.where(x >= n, 1.0, betaincinv(a, b, 1.0 - alpha / 2.0))
    empty = n == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
    return ProportionInterval(
        estimate=np.where(empty, np.nan, p),
        lower=np.where(empty, 0.0, lower),
        upper=np.where(empty, 1.0, upper),
    )
