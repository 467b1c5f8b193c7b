"""Proportion intervals against statsmodels ``proportion_confint`` (the oracle)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from analytics_engine.intervals import jeffreys_interval, wilson_bounds, wilson_interval

CASES = [(0, 10), (1, 10), (8, 10), (10, 10), (2.5, 10), (0.3, 1.7), (37, 120), (5, 5000)]


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01])
def test_wilson_matches_statsmodels(alpha: float) -> None:
    x = np.array([c[0] for c in CASES], dtype=float)
    n = np.array([c[1] for c in CASES], dtype=float)
    ci = wilson_interval(x, n, alpha=alpha)
    lo, hi = proportion_confint(x, n, alpha=alpha, method="wilson")
    np.testing.assert_allclose(ci.lower, lo, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ci.upper, hi, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ci.estimate, x / n)


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_jeffreys_matches_statsmodels_inside_and_brown_cai_dasgupta_at_the_ends(
    alpha: float,
) -> None:
    x = np.array([c[0] for c in CASES], dtype=float)
    n = np.array([c[1] for c in CASES], dtype=float)
    ci = jeffreys_interval(x, n, alpha=alpha)
    lo, hi = proportion_confint(x, n, alpha=alpha, method="jeffreys")
    inside = (x > 0) & (x < n)
    np.testing.assert_allclose(ci.lower[inside], lo[inside], rtol=1e-10)
    np.testing.assert_allclose(ci.upper[inside], hi[inside], rtol=1e-10)
    # Brown, Cai & DasGupta (2001, sec. 4.1.2): lower end 0 at x = 0, upper end 1 at x = n.
    assert (ci.lower[x == 0] == 0).all()
    np.testing.assert_allclose(ci.upper[x == 0], hi[x == 0], rtol=1e-10)
    assert (ci.upper[x == n] == 1).all()
    np.testing.assert_allclose(ci.lower[x == n], lo[x == n], rtol=1e-10)


def test_doc_values_of_both_intervals() -> None:
    # statsmodels 0.14/0.15: proportion_confint(8, 10, method=...)
    assert wilson_interval([8], [10]).lower[0] == pytest.approx(0.4901624715, abs=1e-9)
    assert jeffreys_interval([8], [10]).lower[0] == pytest.approx(0.4972255036, abs=1e-9)
    assert jeffreys_interval([8], [10]).upper[0] == pytest.approx(0.9559405864, abs=1e-9)


def test_empty_count_gives_nan_estimate_and_whole_unit_interval() -> None:
    for interval in (wilson_interval, jeffreys_interval):
        ci = interval([0.0], [0.0])
        assert np.isnan(ci.estimate[0])
        assert (ci.lower[0], ci.upper[0]) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("successes", "count", "alpha", "message"),
    [
        ([1], [2], 0.0, "alpha"),
        ([1], [2], float("nan"), "alpha"),
        ([1, 2], [3], 0.05, "different shapes"),
        ([float("nan")], [2], 0.05, "successes"),
        ([1], [float("inf")], 0.05, "count"),
        ([1], [-2], 0.05, "count"),
        ([3], [2], 0.05, "successes"),
        ([-1], [2], 0.05, "successes"),
    ],
)
def test_bad_input_raises_naming_the_argument(successes, count, alpha, message) -> None:
    for interval in (wilson_interval, jeffreys_interval):
        with pytest.raises(ValueError, match=message):
            interval(successes, count, alpha=alpha)
    if len(successes) == len(count):  # the scalar path has no shapes to disagree
        with pytest.raises(ValueError, match=message):
            wilson_bounds(successes[0], count[0], alpha=alpha)


def _same_bits(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@settings(max_examples=400, deadline=None)
@given(
    count=st.one_of(st.integers(0, 10**7).map(float), st.floats(0, 1e9)),
    share=st.floats(0, 1),
    alpha=st.sampled_from([0.05, 0.01, 0.1, 0.32]),
)
def test_scalar_wilson_is_the_array_path_bit_for_bit(count, share, alpha) -> None:
    # fractional successes and counts too (ordinal outcomes); the oracle is the numpy path,
    # itself checked against statsmodels above
    successes = min(share * count, count)
    ci = wilson_interval([successes], [count], alpha=alpha)
    scalar = wilson_bounds(successes, count, alpha=alpha)
    array = (float(ci.estimate[0]), float(ci.lower[0]), float(ci.upper[0]))
    assert all(_same_bits(a, b) for a, b in zip(scalar, array, strict=True)), (scalar, array)


def test_scalar_wilson_takes_successes_a_rounding_above_count_as_count() -> None:
    assert wilson_bounds(10 * (1 + 1e-13), 10) == wilson_bounds(10, 10)
    assert wilson_bounds(10, 10)[0] == 1.0


@pytest.mark.parametrize("count", [1, 7, 1000, 2.5])
def test_wilson_ends_are_exact_at_none_and_all_successes(count: float) -> None:
    # statsmodels answers 5.6e-17 for the lower end at 0 of 1 (rounding): ours is exactly 0, so
    # the interval always holds the rate; at count of count the upper end is exactly 1.
    for successes, end in ((0.0, "lower"), (count, "upper")):
        rate, lower, upper = wilson_bounds(successes, count)
        ci = wilson_interval([successes], [count])
        assert (lower, upper) == (ci.lower[0], ci.upper[0])
        assert lower <= rate <= upper
        assert (lower if end == "lower" else upper) == (0.0 if end == "lower" else 1.0)
