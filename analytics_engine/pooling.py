"""Partial pooling of recalibration maps across the agents of one action type: each agent's
Platt map shrunk toward its siblings' by empirical Bayes, as much as the agents actually agree.

The model (a hierarchical logistic model, fitted by parametric empirical Bayes, Morris 1983):
agent ``j``'s Platt parameters ``θ_j = (a_j, b_j)`` of ``logit q = a + b · logit p`` are drawn
from ``N(μ, T)``, the organisation's distribution for the action type. ``μ`` and the
between-agent covariance ``T`` are estimated from the siblings' own fits ``θ̂_i`` and their
sampling covariances ``V_i`` (the inverse Fisher information of each fit), by restricted
maximum likelihood (REML, Patterson & Thompson 1971); then the agent's map is the maximum a
posteriori fit of its own binned outcomes under the prior ``N(μ, T)``. A new agent gets ``μ``
(the pooled map); its own information grows with its outcomes and takes over; an agent whose
own fit conflicts with the prior (Box 1980's prior predictive check) keeps its own fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analytics_engine.binned_platt import binned_outcomes, fit_binned_platt
from analytics_engine.calibration_stats import CalibrationStats
from analytics_engine.recalibration import RecalibrationMap, fit_recalibration

PoolingSource = Literal["pooled", "own", "unpooled"]


@dataclass(frozen=True)
class RandomEffects:
    """Normal random-effects fit of ``m`` estimates: ``θ̂_i ~ N(μ, V_i + T)``.

    - ``mean``: ``μ`` (the precision-weighted mean of the estimates under ``V_i + T``);
    - ``between``: ``T``, the between-unit covariance (REML, floored);
    - ``shrunk``: the posterior means ``μ + T (V_i + T)⁻¹ (θ̂_i − μ)``, one row per unit;
    - ``iterations``, ``converged``: of the optimiser.
    """

    mean: NDArray[np.float64]
    between: NDArray[np.float64]
    shrunk: NDArray[np.float64]
    iterations: int
    converged: bool


def _negative_reml(
    t: NDArray[np.float64], theta: NDArray[np.float64], v: NDArray[np.float64]
) -> float:
    total = v + t
    sign, logdet = np.linalg.slogdet(total)
    if (sign <= 0).any():
        return math.inf
    w = np.linalg.inv(total)
    s = w.sum(axis=0)
    mu = np.linalg.solve(s, np.einsum("mij,mj->i", w, theta))
    r = theta - mu
    _, logdet_s = np.linalg.slogdet(s)
    return 0.5 * float(logdet.sum() + logdet_s + np.einsum("mi,mij,mj->", r, w, r))


def random_effects(
    estimates: ArrayLike,
    covariances: ArrayLike,
    *,
    min_between_sd: float = 0.0,
) -> RandomEffects:
    """REML estimate of the normal random-effects model ``θ̂_i ~ N(μ, V_i + T)`` and the
    empirical Bayes posterior means of the ``θ_i`` (Morris 1983).

    ``T = min_between_sd² · I + L Lᵀ`` maximises the restricted likelihood (Patterson &
    Thompson 1971) ``−½ [Σ log|V_i + T| + log|Σ W_i| + Σ (θ̂_i − μ)ᵀ W_i (θ̂_i − μ)]``,
    ``W_i = (V_i + T)⁻¹``, over the lower-triangular ``L`` (BFGS); then
    ``μ = (Σ W_i)⁻¹ Σ W_i θ̂_i`` and the posterior means are ``μ + T W_i (θ̂_i − μ)``. The
    floor keeps every unit from being pooled completely.

    With equal ``V`` and one dimension, REML has Morris's closed form: ``T = max(s² − V, 0)``,
    ``s²`` the sample variance, and the shrinkage factor is ``B = V / (V + T)``:

    >>> fit = random_effects([[0.0], [2.0]], [[[0.5]], [[0.5]]])
    >>> round(float(fit.between[0, 0]), 4), fit.shrunk.round(4).ravel().tolist()
    (1.5, [0.25, 1.75])
    """
    from scipy.optimize import minimize  # on first use: a server idles without it

    theta = np.asarray(estimates, dtype=np.float64)
    v = np.asarray(covariances, dtype=np.float64)
    if theta.ndim != 2 or theta.shape[0] < 2:
        raise ValueError(f"estimates must have shape (m, d) with m >= 2, got {theta.shape}")
    m, d = theta.shape
    if v.shape != (m, d, d):
        raise ValueError(f"covariances must have shape ({m}, {d}, {d}), got {v.shape}")
    if not (np.isfinite(theta).all() and np.isfinite(v).all()):
        raise ValueError("estimates and covariances must be finite")
    if not min_between_sd >= 0:
        raise ValueError(f"min_between_sd must be non-negative, got {min_between_sd!r}")
    floor = float(min_between_sd) ** 2 * np.eye(d)
    rows, cols = np.tril_indices(d)

    def between(x: NDArray[np.float64]) -> NDArray[np.float64]:
        lower = np.zeros((d, d))
        lower[rows, cols] = x
        out: NDArray[np.float64] = floor + lower @ lower.T
        return out

    # start from the moments: the sample covariance less the mean sampling covariance
    centred = theta - theta.mean(axis=0)
    moments = centred.T @ centred / (m - 1) - v.mean(axis=0)
    values, vectors = np.linalg.eigh(0.5 * (moments + moments.T))
    start = np.linalg.cholesky((vectors * np.maximum(values, 1e-4)) @ vectors.T)[rows, cols]

    def objective(x: NDArray[np.float64]) -> float:
        return _negative_reml(between(x), theta, v)

    result = minimize(objective, np.asarray(start, dtype=np.float64), method="BFGS")
    t = between(np.asarray(result.x, dtype=np.float64))
    w = np.linalg.inv(v + t)
    mu = np.linalg.solve(w.sum(axis=0), np.einsum("mij,mj->i", w, theta))
    shrunk = mu + np.einsum("ij,mjk,mk->mi", t, w, theta - mu)
    return RandomEffects(
        mean=mu,
        between=t,
        shrunk=shrunk,
        iterations=int(result.nit),
        converged=bool(result.success),
    )


@dataclass(frozen=True)
class GroupPrior:
    """The organisation's Platt prior for one action type: ``N(mean, between)`` over the
    agents' ``(a, b)``, estimated from ``n_agents`` agents holding ``n`` outcomes; or, with
    ``origin="past"``, an agent's own map before a change (``drift.change_prior``)."""

    mean: NDArray[np.float64]
    between: NDArray[np.float64]
    n_agents: int
    n: float
    origin: Literal["siblings", "past"] = "siblings"


def group_prior(
    siblings: Sequence[CalibrationStats], *, min_between_sd: float = 0.05
) -> GroupPrior | None:
    """Empirical Bayes prior from the siblings' own Platt fits (``random_effects`` of their
    maximum-likelihood ``(a, b)`` with the inverse Fisher information as ``V_i``); ``None``
    when fewer than two siblings have an identified fit (at least 3 non-empty bins, no
    separation).

    >>> rng = np.random.default_rng(0)
    >>> agents = []
    >>> for _ in range(6):
    ...     p = rng.random(1000)
    ...     q = np.sqrt(p) / (np.sqrt(p) + np.sqrt(1 - p))  # temperature 2: slope 1/2
    ...     agents.append(CalibrationStats.from_arrays(p, rng.random(1000) < q))
    >>> prior = group_prior(agents)
    >>> prior.n_agents, prior.mean.round(1).tolist()
    (6, [0.0, 0.5])
    """
    if not min_between_sd > 0:
        raise ValueError(f"min_between_sd must be positive, got {min_between_sd!r}")
    fits = sibling_fits(siblings)
    if fits.params.shape[0] < 2:
        return None
    params, covs, n = fits.params, fits.covariances, fits.n
    re = random_effects(params, covs, min_between_sd=min_between_sd)
    return GroupPrior(mean=re.mean, between=re.between, n_agents=params.shape[0], n=n)


@dataclass(frozen=True)
class SiblingFits:
    """The siblings' own maximum-likelihood Platt fits: ``params`` ``(m, 2)``, their
    ``covariances`` ``(m, 2, 2)`` (inverse Fisher information), ``index`` of each in the
    siblings given (those without an identified fit are left out) and their outcomes ``n``."""

    params: NDArray[np.float64]
    covariances: NDArray[np.float64]
    index: NDArray[np.intp]
    n: float


def sibling_fits(siblings: Sequence[CalibrationStats]) -> SiblingFits:
    """Each sibling's Platt fit on its bins, if identified (at least 3 non-empty bins,
    converged, non-singular information)."""
    params: list[NDArray[np.float64]] = []
    covs: list[NDArray[np.float64]] = []
    index: list[int] = []
    n = 0.0
    for i, stats in enumerate(siblings):
        if not isinstance(stats, CalibrationStats):
            raise ValueError(f"siblings[{i}] must be CalibrationStats, got {type(stats).__name__}")
        bins = binned_outcomes(stats)
        if bins.count.size < 3:
            continue
        fit = fit_binned_platt(bins.z, bins.count, bins.successes)
        info = fit.information[0]
        if not fit.converged[0] or np.linalg.det(info) <= 1e-12:
            continue
        params.append(fit.params[0])
        covs.append(np.linalg.inv(info))
        index.append(i)
        n += bins.n
    return SiblingFits(
        params=np.array(params).reshape(-1, 2),
        covariances=np.array(covs).reshape(-1, 2, 2),
        index=np.array(index, dtype=np.intp),
        n=n,
    )


@dataclass(frozen=True)
class PooledRecalibration:
    """An agent's recalibration map fitted with partial pooling, and why.

    - ``map``: the map in use (a Platt map unless the agent's own fit fell back);
    - ``source``: ``"pooled"`` (the agent's data under the group prior; all prior when it has
      no outcomes), ``"own"`` (its own fit conflicts with the group's: its own Platt fit) or
      ``"unpooled"`` (fewer than two siblings with an identified fit, or a pooled fit that did
      not converge: ``fit_recalibration``);
    - ``pooled_weight``: share of the map's precision that comes from the group,
      ``tr((I + T⁻¹)⁻¹ T⁻¹) / 2`` with ``I`` the agent's Fisher information (1 for a new
      agent, toward 0 as its outcomes grow; 0 unless ``source == "pooled"``);
    - ``prior_intercept``, ``prior_slope``: the group's mean map ``μ``;
      ``between_sd_intercept``, ``between_sd_slope``: square roots of ``T``'s diagonal, how
      much the agents differ, ``between_covariance`` its off-diagonal; ``n_siblings``:
      agents the prior was estimated from;
    - ``own_intercept``, ``own_slope``: the agent's own maximum-likelihood Platt fit (NaN when
      not identified); ``conflict_chi2``, ``conflict_p_value``: the prior predictive check
      ``(θ̂ − μ)ᵀ (I⁻¹ + T)⁻¹ (θ̂ − μ) ~ χ²₂`` (NaN without an own fit);
    - ``n``: the agent's outcomes; ``reason``: one plain-English sentence.
    """

    map: RecalibrationMap
    source: PoolingSource
    pooled_weight: float
    prior_intercept: float
    prior_slope: float
    between_sd_intercept: float
    between_sd_slope: float
    between_covariance: float
    n_siblings: int
    own_intercept: float
    own_slope: float
    conflict_chi2: float
    conflict_p_value: float
    n: float
    reason: str

    @property
    def prior_mean(self) -> NDArray[np.float64]:
        """``μ`` as an array ``(a, b)``."""
        return np.array([self.prior_intercept, self.prior_slope])

    @property
    def prior_covariance(self) -> NDArray[np.float64]:
        """``T`` as a 2 × 2 array."""
        c = self.between_covariance
        return np.array([[self.between_sd_intercept**2, c], [c, self.between_sd_slope**2]])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (the map as ``RecalibrationMap.to_dict``, NaN as ``None``)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if key == "map":
                out[key] = self.map.to_dict()
            elif isinstance(value, float) and not math.isfinite(value):
                out[key] = None
            else:
                out[key] = value
        return out


def _platt_map(a: float, b: float, n: float, mean_rate: float) -> RecalibrationMap:
    if b < 0:  # as fit_recalibration: a decreasing map carries no usable signal
        rate = min(max(mean_rate, 1e-9), 1 - 1e-9)
        return RecalibrationMap("platt", intercept=math.log(rate / (1 - rate)), slope=0.0, n=n)
    return RecalibrationMap("platt", intercept=a, slope=b, n=n)


def fit_pooled_recalibration(
    agent: CalibrationStats,
    siblings: Sequence[CalibrationStats] | GroupPrior | None,
    *,
    min_between_sd: float = 0.05,
    conflict_level: float | None = None,
) -> PooledRecalibration:
    """Fit ``agent``'s Platt map shrunk toward its siblings' (the other agents of the same
    action type in the organisation, or of its team), as much as the siblings agree.

    ``siblings`` are their ``CalibrationStats`` (the agent itself excluded, so that its prior
    does not contain its own data), or a ``GroupPrior`` computed once from them. The map is
    the posterior mode of ``a, b`` under ``N(μ, T)`` (``group_prior``), Newton on the agent's
    bins (``binned_platt``). ``min_between_sd`` keeps every agent's own data able to take
    over; an agent whose own fit is outside the prior's predictive distribution at level
    ``conflict_level`` (χ² with 2 degrees of freedom) keeps its own Platt fit: at 0.05, one
    agent in twenty that is like its siblings loses the pooling by chance, and an agent
    distorted the other way is let go after about 50 outcomes (docs/calibration.md).
    ``conflict_level=0`` never lets go: the data take over only by their weight. The default
    is 0.05 for siblings' prior and 0 for an agent's own map before a change
    (``drift.change_prior``), which its new outcomes are expected to leave.

    >>> rng = np.random.default_rng(1)
    >>> def agent_stats(n):
    ...     p = rng.random(n)
    ...     q = np.sqrt(p) / (np.sqrt(p) + np.sqrt(1 - p))  # temperature 2
    ...     return CalibrationStats.from_arrays(p, rng.random(n) < q)
    >>> siblings = [agent_stats(1000) for _ in range(8)]
    >>> new = fit_pooled_recalibration(CalibrationStats.empty(), siblings)
    >>> new.source, round(new.pooled_weight, 6), round(new.map.slope, 1)
    ('pooled', 1.0, 0.5)
    >>> grown = fit_pooled_recalibration(agent_stats(200), siblings)
    >>> grown.source, 0 < grown.pooled_weight < 1
    ('pooled', True)
    """
    if not isinstance(agent, CalibrationStats):
        raise ValueError(f"agent must be CalibrationStats, got {type(agent).__name__}")
    if isinstance(siblings, GroupPrior) or siblings is None:
        prior = siblings
    else:
        prior = group_prior(siblings, min_between_sd=min_between_sd)
    if conflict_level is None:
        conflict_level = 0.0 if prior is not None and prior.origin == "past" else 0.05
    if not 0 <= conflict_level < 1:
        raise ValueError(f"conflict_level must be in [0, 1), got {conflict_level!r}")
    bins = binned_outcomes(agent)
    n = bins.n
    nan = math.nan
    own_a = own_b = chi2 = p_conflict = nan
    own_info = np.zeros((2, 2))
    if bins.count.size >= 3:
        own = fit_binned_platt(bins.z, bins.count, bins.successes)
        if own.converged[0] and np.linalg.det(own.information[0]) > 1e-12:
            own_a, own_b = (float(v) for v in own.params[0])
            own_info = own.information[0]
    if prior is None:
        fitted = fit_recalibration(agent)
        return PooledRecalibration(
            fitted, "unpooled", 0.0, nan, nan, nan, nan, nan, 0, own_a, own_b, nan, nan, n,
            "Fewer than two other agents of this action type have an identified fit: "
            f"the agent's own {fitted.method} map on {n:g} outcomes.",
        )  # fmt: skip
    mu, between = prior.mean, prior.between
    sd_a, sd_b = (math.sqrt(float(v)) for v in np.diag(between))
    cov_ab = float(between[0, 1])
    common = (float(mu[0]), float(mu[1]), sd_a, sd_b, cov_ab, prior.n_agents)
    if math.isfinite(own_a):
        diff = np.array([own_a, own_b]) - mu
        chi2 = float(diff @ np.linalg.solve(np.linalg.inv(own_info) + between, diff))
        p_conflict = math.exp(-chi2 / 2.0)  # χ² survival function with 2 degrees of freedom
    if p_conflict < conflict_level:
        fitted = fit_recalibration(agent, method="platt")
        return PooledRecalibration(
            fitted, "own", 0.0, *common, own_a, own_b, chi2, p_conflict, n,
            f"This agent's own map (slope {own_b:.2f}, intercept {own_a:.2f}) is unlike its "
            f"{prior.n_agents} siblings' (slope {mu[1]:.2f} ± {sd_b:.2f}, intercept "
            f"{mu[0]:.2f} ± {sd_a:.2f}; χ² = {chi2:.1f}, p = {p_conflict:.2g}): its own "
            f"fit on {n:g} outcomes, not pooled.",
        )  # fmt: skip
    precision = np.asarray(np.linalg.inv(between), dtype=np.float64)
    if n > 0:
        post = fit_binned_platt(
            bins.z, bins.count, bins.successes,
            prior_mean=mu, prior_precision=precision, start=mu,
        )  # fmt: skip
        if not post.converged[0]:  # not seen: the prior makes the objective strictly concave
            fitted = fit_recalibration(agent)
            return PooledRecalibration(
                fitted, "unpooled", 0.0, *common, own_a, own_b, chi2, p_conflict, n,
                f"The pooled fit did not converge: the agent's own {fitted.method} map.",
            )  # fmt: skip
        a, b = (float(v) for v in post.params[0])
        info = post.information[0]
        mean_rate = float(bins.successes.sum() / n)
    else:
        a, b = float(mu[0]), float(mu[1])
        info = np.zeros((2, 2))
        mean_rate = 0.5
    weight = float(np.trace(np.linalg.solve(info + precision, precision))) / 2.0
    fitted = _platt_map(a, b, n, mean_rate)
    spread = f"(slope {mu[1]:.2f} ± {sd_b:.2f}, intercept {mu[0]:.2f} ± {sd_a:.2f})"
    if prior.origin == "past":
        evidence = f"this agent's map before its change {spread}"
    else:
        evidence = f"{prior.n_agents} siblings {spread}"
    if n > 0:
        reason = (
            f"Pooled: {weight:.0%} of the map's weight from {evidence}, the rest from this "
            f"agent's {n:g} outcomes."
        )
    else:
        reason = f"No outcomes yet: the map pooled from {evidence}."
    return PooledRecalibration(
        fitted, "pooled", weight, *common, own_a, own_b, chi2, p_conflict, n, reason
    )
