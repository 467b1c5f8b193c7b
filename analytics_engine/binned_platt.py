"""Platt scaling on bin aggregates, with an optional Gaussian prior: Newton's method for
``logit q = a + b · logit p̄_k`` over many weightings of the same bins at once.

The pooled recalibration (``pooling``) fits each agent with the organisation's prior; the
method choice (``method_choice``) refits every leave-one-out weighting in one vectorised pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analytics_engine.calibration_stats import CalibrationStats

LOGIT_EPS = 1e-9  # as recalibration.RecalibrationMap clips p before its logit
_MAX_PARAM = 50.0  # beyond this the parameters are not identified (separation)


@dataclass(frozen=True)
class BinnedOutcomes:
    """The non-empty bins of a ``CalibrationStats``: mean confidence ``x`` (non-decreasing),
    its logit ``z``, outcome weight ``count`` and ``successes`` (``Σy``, at most ``count``)."""

    x: NDArray[np.float64]
    z: NDArray[np.float64]
    count: NDArray[np.float64]
    successes: NDArray[np.float64]

    @property
    def n(self) -> float:
        return float(self.count.sum())


def binned_outcomes(stats: CalibrationStats) -> BinnedOutcomes:
    """The bins ``fit_recalibration`` fits on: non-empty bins, their mean confidence made
    non-decreasing against rounding, ``Σy`` clipped to the count."""
    nz = stats.count > 0
    c = stats.count[nz].astype(np.float64)
    s = np.clip(stats.sum_y[nz], 0.0, c)
    x = np.maximum.accumulate(np.clip(stats.sum_p[nz] / c, 0.0, 1.0)) if c.size else c
    z = np.log(np.clip(x, LOGIT_EPS, 1 - LOGIT_EPS) / np.clip(1 - x, LOGIT_EPS, 1 - LOGIT_EPS))
    return BinnedOutcomes(x=x, z=z, count=c, successes=s)


@dataclass(frozen=True)
class PlattFits:
    """One fit per row: ``params`` ``(rows, 2)`` as ``(a, b)``, ``information`` ``(rows, 2,
    2)`` the Fisher information of the data alone at ``params`` (the prior's precision is not
    included), ``converged`` ``(rows,)``: Newton converged to finite, identified parameters."""

    params: NDArray[np.float64]
    information: NDArray[np.float64]
    converged: NDArray[np.bool_]


def _expit(eta: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * eta))  # no overflow warnings
    return out


def fit_binned_platt(
    z: NDArray[np.float64],
    count: NDArray[np.float64],
    successes: NDArray[np.float64],
    *,
    prior_mean: NDArray[np.float64] | None = None,
    prior_precision: NDArray[np.float64] | None = None,
    start: NDArray[np.float64] | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> PlattFits:
    """Maximum a posteriori ``(a, b)`` of the binomial model ``successes_k ~ Bin(count_k,
    expit(a + b z_k))`` under the prior ``N(prior_mean, prior_precision⁻¹)`` (no prior: the
    maximum-likelihood fit, the logistic regression of Platt 1999 on the bins), one fit per
    row of ``count`` and ``successes`` (shape ``(rows, bins)`` or ``(bins,)``).

    Newton–Raphson on the penalised log-likelihood (concave, so the step is halved until the
    objective does not decrease); with a prior of positive precision the maximum always exists.

    >>> f = fit_binned_platt(np.array([-1.0, 0.0, 1.0]), np.array([10.0, 10.0, 10.0]),
    ...                      np.array([3.0, 5.0, 7.0]))
    >>> round(float(f.params[0, 1]), 4), bool(f.converged[0])
    (0.8473, True)
    """
    c = np.atleast_2d(np.asarray(count, dtype=np.float64))
    s = np.atleast_2d(np.asarray(successes, dtype=np.float64))
    rows = c.shape[0]
    m = np.zeros(2) if prior_mean is None else np.asarray(prior_mean, dtype=np.float64)
    prec = np.zeros((2, 2)) if prior_precision is None else np.asarray(prior_precision)
    theta = np.zeros((rows, 2)) if start is None else np.array(np.broadcast_to(start, (rows, 2)))
    design = np.stack((np.ones_like(z), z))  # (2, bins)

    def objective(t: NDArray[np.float64]) -> NDArray[np.float64]:
        eta = t[:, :1] + t[:, 1:] * z
        # log-likelihood: s·eta − c·log(1 + e^eta), stably
        loglik = np.sum(s * eta - c * np.logaddexp(0.0, eta), axis=1)
        d = t - m
        out: NDArray[np.float64] = loglik - 0.5 * np.einsum("ri,ij,rj->r", d, prec, d)
        return out

    current = objective(theta)
    active = np.ones(rows, dtype=bool)
    settled = np.zeros(rows, dtype=bool)
    for _ in range(max_iter):
        mu = _expit(theta[:, :1] + theta[:, 1:] * z)
        resid = s - c * mu
        grad = resid @ design.T - (theta - m) @ prec.T
        w = c * mu * (1.0 - mu)
        info = np.einsum("rk,ik,jk->rij", w, design, design)
        hess = info + prec
        det = hess[:, 0, 0] * hess[:, 1, 1] - hess[:, 0, 1] * hess[:, 1, 0]
        ok = det > 1e-300
        safe = np.where(ok, det, 1.0)
        step = np.stack(
            (
                (hess[:, 1, 1] * grad[:, 0] - hess[:, 0, 1] * grad[:, 1]) / safe,
                (hess[:, 0, 0] * grad[:, 1] - hess[:, 1, 0] * grad[:, 0]) / safe,
            ),
            axis=1,
        )
        step[~ok | ~active] = 0.0
        scale = np.ones(rows)
        trial, value = theta, current
        for _halving in range(30):
            trial = theta + scale[:, None] * step
            value = objective(trial)
            worse = (value < current - 1e-12 * np.abs(current)) & active
            if not worse.any():
                break
            scale = np.where(worse, scale / 2.0, scale)
        theta, current = trial, np.maximum(value, current)
        moved = np.max(np.abs(scale[:, None] * step), axis=1)
        settled |= active & ok & (moved < tol)
        active &= ok & ~settled & np.all(np.abs(theta) < _MAX_PARAM, axis=1)
        if not active.any():
            break
    mu = _expit(theta[:, :1] + theta[:, 1:] * z)
    info = np.einsum("rk,ik,jk->rij", c * mu * (1.0 - mu), design, design)
    converged = settled & np.all(np.abs(theta) < _MAX_PARAM, axis=1) & np.isfinite(theta).all(1)
    return PlattFits(params=theta, information=info, converged=converged)
