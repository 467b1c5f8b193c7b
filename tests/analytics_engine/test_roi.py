"""ROI, rates with Wilson intervals, and Newcombe's interval for a difference of two rates."""

import doctest
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from analytics_engine import roi
from analytics_engine.intervals import wilson_interval
from analytics_engine.roi import (
    compare_rates,
    newcombe_difference_interval,
    rate_estimate,
)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(roi)
    assert result.attempted > 0 and result.failed == 0


# Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10, examples (a)-(h).
@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "lower", "upper"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (0, 10, 0, 10, -0.2775, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0000),
        (10, 10, 0, 10, 0.6075, 1.0000),
    ],
)
def test_newcombe_matches_the_papers_table(x1, n1, x2, n2, lower, upper) -> None:
    lo, hi = newcombe_difference_interval([x1], [n1], [x2], [n2])
    assert round(float(lo[0]), 4) == lower
    assert round(float(hi[0]), 4) == upper


@settings(max_examples=60, deadline=None)
@given(
    n1=st.integers(1, 400),
    n2=st.integers(1, 400),
    f1=st.floats(0, 1),
    f2=st.floats(0, 1),
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
)
def test_newcombe_matches_statsmodels(n1, n2, f1, f2, alpha) -> None:
    x1, x2 = round(f1 * n1), round(f2 * n2)
    lo, hi = newcombe_difference_interval([x1], [n1], [x2], [n2], alpha=alpha)
    # oracle: statsmodels confint_proportions_2indep(method="newcomb")
    ref = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", alpha=alpha)
    np.testing.assert_allclose([lo[0], hi[0]], ref, atol=1e-10)
    assert -1.0 <= lo[0] <= x1 / n1 - x2 / n2 <= hi[0] <= 1.0


def test_newcombe_is_vectorised_and_wide_open_for_empty_groups() -> None:
    lo, hi = newcombe_difference_interval([56, 9, 0], [70, 10, 0], [48, 3, 1], [80, 10, 5])
    np.testing.assert_allclose(lo[:2], [0.05243147, 0.17052272], atol=1e-7)
    assert (lo[2], hi[2]) == (-1.0, 1.0)


def test_rate_estimate_matches_statsmodels_wilson() -> None:
    for x, n in [(0, 5), (3, 17), (40, 40), (123, 1000)]:
        estimate = rate_estimate(x, n)
        ref = proportion_confint(x, n, alpha=0.05, method="wilson")
        np.testing.assert_allclose([estimate.lower, estimate.upper], ref, atol=1e-12)
        assert estimate.rate == x / n


def test_compare_rates_p_value_matches_pooled_z_test() -> None:
    comparison = compare_rates(130, 1000, 95, 1000)
    _, p_value = proportions_ztest([130, 95], [1000, 1000])  # oracle: statsmodels
    assert comparison.p_value == pytest.approx(p_value, rel=1e-12)
    assert comparison.difference == pytest.approx(0.035)
    assert comparison.agent.rate == 0.13 and comparison.human.rate == 0.095


def test_compare_rates_with_an_empty_group_is_undefined_not_an_error() -> None:
    comparison = compare_rates(5, 10, 0, 0)
    assert math.isnan(comparison.difference) and math.isnan(comparison.p_value)
    assert (comparison.difference_lower, comparison.difference_upper) == (-1.0, 1.0)
    assert math.isnan(comparison.human.rate)
    assert compare_rates(0, 10, 0, 10).p_value == 1.0


def test_rate_functions_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="exceeds count"):
        rate_estimate(11, 10)
    with pytest.raises(ValueError, match="successes"):
        compare_rates(-1, 10, 1, 10)
    with pytest.raises(ValueError, match="shape"):
        newcombe_difference_interval([1, 2], [3, 4], [1], [3])


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 10**5),
    share=st.floats(0, 1),
    other_n=st.integers(0, 10**5),
    other_share=st.floats(0, 1),
)
def test_rates_and_intervals_are_bounded(n, share, other_n, other_share) -> None:
    comparison = compare_rates(round(share * n), n, round(other_share * other_n), other_n)
    for rate in (comparison.agent, comparison.human):
        assert 0.0 <= rate.lower <= rate.upper <= 1.0
        assume(rate.count > 0)
        # 1e-12: the Wilson lower end at x = 0 comes out as ~5e-17 rather than exactly 0
        assert rate.lower - 1e-12 <= rate.rate <= rate.upper + 1e-12
    assert -1.0 <= comparison.difference_lower <= comparison.difference + 1e-12
    assert comparison.difference - 1e-12 <= comparison.difference_upper <= 1.0
    assert 0.0 <= comparison.p_value <= 1.0


def _same_bits(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@settings(max_examples=300, deadline=None)
@given(
    n=st.one_of(st.integers(0, 10**6).map(float), st.floats(0, 1e7)),
    share=st.floats(0, 1),
    other_n=st.one_of(st.integers(0, 10**6).map(float), st.floats(0, 1e7)),
    other_share=st.floats(0, 1),
    alpha=st.sampled_from([0.05, 0.01, 0.2]),
)
def test_compare_rates_scalar_path_is_the_array_path_bit_for_bit(
    n, share, other_n, other_share, alpha
) -> None:
    # compare_rates works on plain floats; the vectorised functions are the oracle (they are
    # checked against statsmodels above)
    x, other_x = min(share * n, n), min(other_share * other_n, other_n)
    c = compare_rates(x, n, other_x, other_n, alpha=alpha)
    lower, upper = newcombe_difference_interval([x], [n], [other_x], [other_n], alpha=alpha)
    assert _same_bits(c.difference_lower, float(lower[0]))
    assert _same_bits(c.difference_upper, float(upper[0]))
    for rate, (successes, count) in ((c.agent, (x, n)), (c.human, (other_x, other_n))):
        ci = wilson_interval([successes], [count], alpha=alpha)
        assert _same_bits(rate.rate, float(ci.estimate[0]))
        assert (rate.lower, rate.upper) == (float(ci.lower[0]), float(ci.upper[0]))
