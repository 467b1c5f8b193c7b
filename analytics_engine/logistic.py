"""Logistic regression (binomial GLM, logit link) of grouped rows: observed rates with weights.

A few numpy lines in place of statsmodels' ``GLM(rate, design, family=Binomial(),
var_weights=weight).fit()``, whose import alone costs the application about 170 MiB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

_EPS = float(np.finfo(float).eps)  # statsmodels' FLOAT_EPS: the clipping of its logit link


@dataclass(frozen=True)
class LogisticFit:
    """``params`` and their standard errors ``bse`` (the binomial scale is 1); ``converged``
    when the deviance changed by at most ``tol`` in the last iteration; ``perfect_prediction``
    when the fitted means matched the rates at some iteration (separation, or a saturated
    model: the parameters may not be identified)."""

    params: NDArray[np.float64]
    bse: NDArray[np.float64]
    deviance: float
    iterations: int
    converged: bool
    perfect_prediction: bool


def _deviance(rate: NDArray[np.float64], mu: NDArray[np.float64], w: NDArray[np.float64]) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_1 = np.clip(rate / mu, _EPS, np.inf)
        ratio_0 = np.clip((1.0 - rate) / (1.0 - mu), _EPS, np.inf)
    return float(2.0 * np.sum(w * (rate * np.log(ratio_1) + (1.0 - rate) * np.log(ratio_0))))


def fit_logistic(
    design: ArrayLike,
    rate: ArrayLike,
    weight: ArrayLike,
    *,
    max_iter: int = 100,
    tol: float = 1e-8,
) -> LogisticFit:
    """Maximum-likelihood fit of ``logit E[rate] = design @ params``, each row weighing
    ``weight`` (its number of outcomes), by iteratively reweighted least squares (Nelder &
    Wedderburn 1972; McCullagh & Nelder 1989, §4.4).

    The iterations are statsmodels' ``GLM.fit()`` (IRLS) step for step: start at
    ``mu = (rate + 1/2) / 2``, least squares on the working response, stop when the deviance
    changes by at most ``tol``; the covariance is that of the last weighted least squares. On
    rows grouped by their covariates, the estimates and standard errors equal those of the
    per-outcome fit.

    >>> fit = fit_logistic([[1, 0], [1, 1]], [0.2, 0.6], [50, 50])
    >>> fit.params.round(4).tolist(), fit.converged
    ([-1.3863, 1.7918], True)
    """
    x = np.asarray(design, dtype=np.float64)
    r = np.asarray(rate, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"design must be a non-empty 2-D array, got shape {x.shape}")
    if r.shape != (x.shape[0],) or w.shape != r.shape:
        raise ValueError(f"rate and weight must have shape ({x.shape[0]},)")
    if not np.isfinite(x).all():
        raise ValueError("design has NaN or infinite values")
    if not (r.min() >= 0.0 and r.max() <= 1.0):
        raise ValueError("rate has values outside [0, 1] or NaN")
    if not (np.isfinite(w).all() and w.min() > 0.0):
        raise ValueError("weight must be positive and finite")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    mu = (r + 0.5) / 2.0
    eta = np.log(mu / (1.0 - mu))
    deviance = _deviance(r, mu, w)
    params: NDArray[np.float64] = np.zeros(x.shape[1])
    irls_weight = w
    converged = perfect = False
    iteration = 0
    with np.errstate(over="ignore", under="ignore"):
        for iteration in range(1, max_iter + 1):  # noqa: B007  (the count is reported)
            clean = np.clip(mu, _EPS, 1.0 - _EPS)
            variance = clean * (1.0 - clean)
            irls_weight = w * variance
            working = eta + (r - mu) / variance
            root = np.sqrt(irls_weight)
            params = np.linalg.lstsq(x * root[:, None], working * root, rcond=None)[0].astype(
                np.float64
            )
            eta = x @ params
            mu = 1.0 / (1.0 + np.exp(-eta))
            previous, deviance = deviance, _deviance(r, mu, w)
            perfect = perfect or bool(np.allclose(mu - r, 0.0))
            if np.isclose(previous, deviance, rtol=0.0, atol=tol):
                converged = True
                break
    whitened = x * np.sqrt(irls_weight)[:, None]
    pinv = np.linalg.pinv(whitened)
    bse = np.sqrt(np.diag(pinv @ pinv.T))
    return LogisticFit(params, bse, deviance, iteration, converged, perfect)
