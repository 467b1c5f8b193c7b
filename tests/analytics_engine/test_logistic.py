"""Logistic regression of grouped rows: statsmodels' GLM (Binomial, var_weights) as the oracle."""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

from analytics_engine.logistic import fit_logistic

SETTINGS = settings(max_examples=80, deadline=None)


def statsmodels_fit(design: np.ndarray, rate: np.ndarray, weight: np.ndarray):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            fit = sm.GLM(rate, design, family=sm.families.Binomial(), var_weights=weight).fit()
    separated = any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
    return fit, separated


@st.composite
def grouped_rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Platt-like rows: an intercept and a logit confidence per bin, or one dummy per group."""
    k = draw(st.integers(3, 20))
    weight = np.array(draw(st.lists(st.integers(1, 500), min_size=k, max_size=k)), float)
    successes = np.array([draw(st.integers(0, int(w))) for w in weight], float)
    if draw(st.booleans()):
        x = np.sort(np.array(draw(st.lists(st.floats(0.01, 0.99), min_size=k, max_size=k))))
        design = np.column_stack([np.ones(k), np.log(x / (1 - x))])
    else:
        groups = draw(st.integers(1, 3))
        codes = np.arange(k) % (groups + 1)
        dummies = (codes[:, None] == np.arange(1, groups + 1)[None, :]).astype(float)
        design = np.column_stack([np.ones(k), dummies])
    return design, successes / weight, weight


@SETTINGS
@given(grouped_rows())
def test_estimates_and_standard_errors_equal_statsmodels(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    design, rate, weight = rows
    reference, separated = statsmodels_fit(design, rate, weight)
    fit = fit_logistic(design, rate, weight)
    if separated:
        assert fit.perfect_prediction  # what statsmodels warns of, ours flags
    if separated or fit.perfect_prediction or not reference.converged:
        return  # (quasi-)separated rows: no finite estimates to compare
    if np.abs(reference.params).max() >= 50:
        return  # a near-separated fit: its estimates are not meaningful to many digits
    assert fit.converged
    # The same IRLS; near the optimum the stopping test (deviance change under 1e-8) may stop
    # one step apart, which moves the estimates by far less than their standard errors.
    assert abs(fit.iterations - reference.fit_history["iteration"]) <= 1
    np.testing.assert_allclose(fit.params, reference.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fit.bse, reference.bse, rtol=1e-5, atol=1e-8)
    assert fit.deviance == pytest.approx(reference.deviance, rel=1e-8, abs=1e-10)


def test_known_two_group_fit() -> None:
    # The saturated two-group model: intercept logit(0.2), slope logit(0.6) - logit(0.2);
    # Var = 1/(n p (1 - p)) per group (McCullagh & Nelder 1989, §4.4).
    fit = fit_logistic([[1, 0], [1, 1]], [0.2, 0.6], [50, 50])
    np.testing.assert_allclose(fit.params, [np.log(0.25), np.log(1.5) - np.log(0.25)], rtol=1e-9)
    # The covariance is taken at the weights of the last iteration (as statsmodels does), one
    # step short of the estimates: close to, not exactly, the one at the optimum.
    se_0 = 1 / np.sqrt(50 * 0.2 * 0.8)
    np.testing.assert_allclose(fit.bse[0], se_0, rtol=1e-5)
    np.testing.assert_allclose(fit.bse[1], np.hypot(se_0, 1 / np.sqrt(50 * 0.6 * 0.4)), rtol=1e-5)


def test_separated_rows_are_flagged() -> None:
    fit = fit_logistic([[1, -1], [1, 0], [1, 1]], [0.0, 0.0, 1.0], [10, 10, 10])
    assert fit.perfect_prediction


@pytest.mark.parametrize(
    ("design", "rate", "weight", "message"),
    [
        ([1, 2], [0.5, 0.5], [1, 1], "design must be a non-empty 2-D array"),
        ([[1.0], [1.0]], [0.5], [1, 1], "rate and weight must have shape"),
        ([[1.0], [np.nan]], [0.5, 0.5], [1, 1], "design has NaN"),
        ([[1.0], [1.0]], [0.5, 1.5], [1, 1], "rate has values outside"),
        ([[1.0], [1.0]], [0.5, 0.5], [1, 0], "weight must be positive"),
    ],
)
def test_bad_inputs_raise(design, rate, weight, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        fit_logistic(design, rate, weight)
