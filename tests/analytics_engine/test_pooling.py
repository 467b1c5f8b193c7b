"""Pooled recalibration: the Platt fit against statsmodels and scikit-learn, the empirical Bayes
step against Morris's closed form and a direct REML maximisation, and the pooling's properties
(monotone, a new agent gets the pooled map, much data takes over, an unlike agent keeps its own)."""

import doctest
import importlib
import json
import math

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

from analytics_engine.binned_platt import binned_outcomes, fit_binned_platt
from analytics_engine.calibration import CalibrationStats
from analytics_engine.pooling import (
    GroupPrior,
    fit_pooled_recalibration,
    group_prior,
    random_effects,
)
from analytics_engine.recalibration import fit_recalibration

SETTINGS = settings(max_examples=40, deadline=None)
GRID = (np.arange(20) + 0.5) / 20  # one confidence value per bin: grouped fit = per-outcome fit


def agent_outcomes(
    temperature: float, n: int, seed: int, *, grid: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.choice(GRID, n) if grid else rng.random(n)
    return p, (rng.random(n) < expit(logit(p) / temperature)).astype(float)


def expected_stats(temperature: float, n: float, *, intercept: float = 0.0) -> CalibrationStats:
    """Statistics of ``n`` outcomes spread evenly over the grid, with their expected successes
    (fractional sums are valid statistics): no sampling noise."""
    c = np.full(20, n / 20)
    q = expit(intercept + logit(GRID) / temperature)
    zeros = np.zeros(20)
    return CalibrationStats.from_bin_sums(
        count=c, sum_p=c * GRID, sum_p2=c * GRID**2, sum_y=c * q, sum_y2=c * q,
        sum_py=c * GRID * q, sum_sq_err=zeros, sum_log_loss=zeros, sum_spieg_num=zeros,
        sum_spieg_var=zeros,
    )  # fmt: skip


def siblings(center: float, seed: int, count: int = 11, n: int = 1000) -> list[CalibrationStats]:
    rng = np.random.default_rng(seed)
    temps = center * np.exp(0.15 * rng.standard_normal(count))
    return [
        CalibrationStats.from_arrays(*agent_outcomes(float(t), n, seed * 100 + i))
        for i, t in enumerate(temps)
    ]


# -- the unpooled Platt fit: independent oracles on the expanded outcomes ----------------------


def test_unpooled_fit_equals_statsmodels_glm_and_sklearn_on_the_outcomes() -> None:
    p, y = agent_outcomes(2.0, 800, 1, grid=True)
    bins = binned_outcomes(CalibrationStats.from_arrays(p, y))
    fit = fit_binned_platt(bins.z, bins.count, bins.successes)
    design = sm.add_constant(logit(p))
    glm = sm.GLM(y, design, family=sm.families.Binomial()).fit()  # oracle: statsmodels IRLS
    np.testing.assert_allclose(fit.params[0], glm.params, rtol=1e-7)
    # the Fisher information's inverse is statsmodels' covariance of the estimates
    np.testing.assert_allclose(np.linalg.inv(fit.information[0]), glm.cov_params(), rtol=1e-6)
    sk = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(logit(p)[:, None], y)
    np.testing.assert_allclose(fit.params[0], [sk.intercept_[0], sk.coef_[0, 0]], rtol=1e-5)


def test_prior_fit_is_the_posterior_mode_found_by_a_general_optimiser() -> None:
    # oracle: scipy's BFGS on the penalised log-likelihood of the expanded outcomes
    p, y = agent_outcomes(2.0, 120, 2, grid=True)
    bins = binned_outcomes(CalibrationStats.from_arrays(p, y))
    mean, precision = np.array([0.1, 0.6]), np.array([[40.0, 5.0], [5.0, 90.0]])
    fit = fit_binned_platt(
        bins.z, bins.count, bins.successes, prior_mean=mean, prior_precision=precision
    )
    z = logit(p)

    def negative_log_posterior(theta: np.ndarray) -> float:
        eta = theta[0] + theta[1] * z
        d = theta - mean
        return float(np.sum(np.logaddexp(0, eta) - y * eta) + 0.5 * d @ precision @ d)

    reference = minimize(negative_log_posterior, np.zeros(2), method="BFGS", tol=1e-12)
    np.testing.assert_allclose(fit.params[0], reference.x, atol=1e-6)


# -- empirical Bayes ------------------------------------------------------------------------


def test_two_agents_with_equal_precision_shrink_by_morris_closed_form() -> None:
    # Hand-worked (Morris 1983, equal variances): estimates 0 and 2, sampling variance V = 0.5.
    # REML: A = s² − V = (1² + 1²)/(2 − 1) − 0.5 = 1.5; B = V/(V + A) = 0.25; each estimate
    # moves a quarter of the way to the mean 1: 0.25 and 1.75.
    fit = random_effects([[0.0], [2.0]], [[[0.5]], [[0.5]]])
    assert fit.between[0, 0] == pytest.approx(1.5, abs=1e-9)
    assert fit.mean[0] == pytest.approx(1.0)
    np.testing.assert_allclose(fit.shrunk.ravel(), [0.25, 1.75], atol=1e-9)
    # no spread beyond the sampling noise: complete pooling, down to the floor
    flat = random_effects([[0.0], [0.5]], [[[0.5]], [[0.5]]], min_between_sd=0.01)
    assert flat.between[0, 0] == pytest.approx(1e-4, rel=1e-3)


def test_reml_with_unequal_precisions_matches_direct_maximisation() -> None:
    # oracle: the restricted log-likelihood maximised by scipy over A (one dimension)
    theta = np.array([0.3, 1.1, -0.4, 0.9, 2.0, 0.2])
    v = np.array([0.1, 0.4, 0.2, 0.05, 0.8, 0.3])

    def negative_reml(a: float) -> float:
        w = 1 / (v + a)
        mu = np.sum(w * theta) / np.sum(w)
        return 0.5 * float(
            np.sum(np.log(v + a)) + np.log(np.sum(w)) + np.sum(w * (theta - mu) ** 2)
        )

    best = minimize_scalar(
        negative_reml, bounds=(0, 10), method="bounded", options={"xatol": 1e-10}
    )
    fit = random_effects(theta[:, None], v[:, None, None])
    assert fit.converged
    assert fit.between[0, 0] == pytest.approx(best.x, rel=1e-4)
    w = 1 / (v + best.x)
    assert fit.mean[0] == pytest.approx(np.sum(w * theta) / np.sum(w), rel=1e-4)


def test_group_prior_recovers_the_siblings_map_and_spread() -> None:
    prior = group_prior(siblings(2.0, 3))
    assert prior is not None and prior.n_agents == 11 and prior.n == 11_000
    assert prior.mean[1] == pytest.approx(0.5, abs=0.06)  # slope 1 / temperature
    assert abs(prior.mean[0]) < 0.1
    assert math.sqrt(prior.between[1, 1]) < 0.2


def test_group_prior_needs_two_identified_fits() -> None:
    assert group_prior([]) is None
    assert group_prior([CalibrationStats.from_arrays(*agent_outcomes(2.0, 500, 4))]) is None
    one_bin = CalibrationStats.from_arrays([0.9] * 50, [1.0] * 30 + [0.0] * 20)
    assert group_prior([one_bin, one_bin]) is None


# -- the pooled map ------------------------------------------------------------------------

PRIOR = group_prior(siblings(2.0, 5))
assert PRIOR is not None


def test_a_new_agent_gets_the_pooled_map() -> None:
    result = fit_pooled_recalibration(CalibrationStats.empty(), PRIOR)
    assert result.source == "pooled" and result.pooled_weight == pytest.approx(1.0)
    assert (result.map.intercept, result.map.slope) == pytest.approx(tuple(PRIOR.mean))
    assert result.n == 0 and math.isnan(result.own_slope)
    json.dumps(result.to_dict())


@SETTINGS
@given(
    temperature=st.floats(1.5, 2.7),
    n=st.integers(0, 400),
    seed=st.integers(0, 10_000),
)
def test_pooled_map_is_monotone_and_its_weight_a_share(
    temperature: float, n: int, seed: int
) -> None:
    stats = CalibrationStats.empty()
    if n:
        stats.add_many(*agent_outcomes(temperature, n, seed))
    result = fit_pooled_recalibration(stats, PRIOR)
    grid = np.linspace(0, 1, 201)
    assert np.all(np.diff(result.map.apply(grid)) >= 0)
    assert 0.0 <= result.pooled_weight <= 1.0
    if n == 0:
        assert result.pooled_weight == pytest.approx(1.0)
        assert result.map.slope == pytest.approx(PRIOR.mean[1])


@SETTINGS
@given(temperature=st.floats(1.6, 2.6), intercept=st.floats(-0.1, 0.1))
def test_much_data_takes_over_from_the_prior(temperature: float, intercept: float) -> None:
    weights = []
    for n in (1e2, 1e4, 1e7):
        stats = expected_stats(temperature, n, intercept=intercept)
        result = fit_pooled_recalibration(stats, PRIOR, conflict_level=1e-12)
        assert result.source == "pooled"
        weights.append(result.pooled_weight)
    assert weights[0] > weights[1] > weights[2]
    assert weights[2] < 1e-3
    # the agent's own maximum-likelihood fit is the truth here (expected counts, no noise)
    assert result.own_slope == pytest.approx(1 / temperature, abs=1e-6)
    assert result.map.slope == pytest.approx(1 / temperature, abs=1e-3)
    assert result.map.intercept == pytest.approx(intercept, abs=1e-3)


def test_an_agent_unlike_its_siblings_keeps_its_own_fit() -> None:
    # siblings underconfident (temperature 0.5), the agent overconfident (temperature 2)
    stats = CalibrationStats.from_arrays(*agent_outcomes(2.0, 200, 6))
    result = fit_pooled_recalibration(stats, siblings(0.5, 7))
    assert result.source == "own" and result.pooled_weight == 0.0
    assert result.conflict_p_value < 0.01
    assert result.map == fit_recalibration(stats, method="platt")
    assert "unlike" in result.reason


def test_an_agent_like_its_siblings_is_pooled_and_closer_to_the_truth() -> None:
    stats = CalibrationStats.from_arrays(*agent_outcomes(2.0, 60, 8))
    result = fit_pooled_recalibration(stats, siblings(2.0, 9))
    assert result.source == "pooled" and 0.5 < result.pooled_weight < 1.0
    own = fit_recalibration(stats, method="platt")
    assert abs(result.map.slope - 0.5) <= abs(own.slope - 0.5)
    assert result.own_slope == pytest.approx(own.slope, rel=1e-6)


def test_without_siblings_the_agent_is_fitted_alone() -> None:
    stats = CalibrationStats.from_arrays(*agent_outcomes(2.0, 500, 10))
    for none in ([], None, siblings(2.0, 11, count=1)):
        result = fit_pooled_recalibration(stats, none)
        assert result.source == "unpooled" and result.map == fit_recalibration(stats)
        assert result.n_siblings == 0


def test_the_prior_can_be_given_once_or_computed() -> None:
    stats = CalibrationStats.from_arrays(*agent_outcomes(2.0, 100, 12))
    group = siblings(2.0, 13)
    prior = group_prior(group)
    assert isinstance(prior, GroupPrior)
    assert fit_pooled_recalibration(stats, group) == fit_pooled_recalibration(stats, prior)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="agent must be CalibrationStats"):
        fit_pooled_recalibration([0.5], [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"siblings\[0\] must be CalibrationStats"):
        fit_pooled_recalibration(CalibrationStats.empty(), [[0.5]])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="conflict_level"):
        fit_pooled_recalibration(CalibrationStats.empty(), PRIOR, conflict_level=1)
    with pytest.raises(ValueError, match="estimates must have shape"):
        random_effects([[1.0]], [[[1.0]]])
    with pytest.raises(ValueError, match="covariances must have shape"):
        random_effects([[1.0], [2.0]], [[1.0], [1.0]])


@pytest.mark.parametrize("name", ["analytics_engine.pooling", "analytics_engine.binned_platt"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


unit = st.floats(0.0, 1.0, allow_nan=False)


@SETTINGS
@given(st.lists(st.tuples(unit, st.sampled_from([0.0, 1.0])), min_size=1, max_size=80))
def test_any_small_agent_gets_a_monotone_map_without_error(data: list[tuple[float, float]]) -> None:
    # one bin, all successes, confidences of exactly 0 or 1: the prior keeps the fit defined
    p, y = (np.array(column) for column in zip(*data, strict=True))
    result = fit_pooled_recalibration(CalibrationStats.from_arrays(p, y), PRIOR)
    assert result.source in ("pooled", "own")
    assert np.all(np.diff(result.map.apply(np.linspace(0, 1, 101))) >= 0)
    assert 0.0 <= result.pooled_weight <= 1.0
