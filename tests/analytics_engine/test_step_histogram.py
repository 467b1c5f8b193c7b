"""The step histogram of the method choice: the dynamic programme finds the best partition (oracle:
every partition enumerated, scored with scipy's Bernoulli log-pmf), BIC picks the number of
groups, the levels are monotone (oracle: scikit-learn's IsotonicRegression), and empty bins
change nothing (what the leave-one-out refits rely on)."""

import doctest
import importlib
import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import bernoulli
from sklearn.isotonic import IsotonicRegression

from analytics_engine.step_histogram import fit_step_histogram

SETTINGS = settings(max_examples=60, deadline=None)


def jeffreys_levels(count: np.ndarray, wins: np.ndarray, edges: tuple[int, ...]) -> np.ndarray:
    groups = list(itertools.pairwise(edges))
    size = np.array([count[a:b].sum() for a, b in groups])
    rate = np.array([(wins[a:b].sum() + 0.5) / (count[a:b].sum() + 1) for a, b in groups])
    levels = IsotonicRegression().fit_transform(np.arange(len(groups)), rate, sample_weight=size)
    return np.concatenate([np.full(b - a, v) for (a, b), v in zip(groups, levels, strict=True)])


def enumerated_fit(count: np.ndarray, wins: np.ndarray, max_levels: int) -> np.ndarray | None:
    """Every partition of the bins into at most ``max_levels`` contiguous groups holding
    outcomes, scored by BIC with the Bernoulli log-likelihood of the raw outcomes; the winner's
    Jeffreys levels made monotone by scikit-learn's isotonic regression, on the bins holding
    outcomes (``None`` when partitions with other levels tie for the best score: either is
    right)."""
    k = count.size
    n = count.sum()
    scored: list[tuple[float, int, tuple[int, ...]]] = []
    for g in range(1, max_levels + 1):
        for cuts in itertools.combinations(range(1, k), g - 1):
            edges = (0, *cuts, k)
            groups = list(itertools.pairwise(edges))
            if any(count[a:b].sum() == 0 for a, b in groups):
                continue
            loglik = 0.0
            for a, b in groups:
                c, s = int(count[a:b].sum()), int(wins[a:b].sum())
                outcomes = np.r_[np.ones(s), np.zeros(c - s)]
                loglik += float(np.sum(bernoulli.logpmf(outcomes, s / c)))
            scored.append((-2 * loglik + (2 * g - 1) * math.log(n), g, edges))
    best = min(s[0] for s in scored)
    first = min(s[1] for s in scored if s[0] <= best + 1e-9)  # ties: the fewest groups
    has = count > 0
    tied = [jeffreys_levels(count, wins, s[2])[has] for s in scored if s[0] <= best + 1e-9]
    tied_g = [s for s in scored if s[0] <= best + 1e-9 and s[1] == first]
    levels = [jeffreys_levels(count, wins, s[2])[has] for s in tied_g]
    if len(tied) != len(tied_g) or any(not np.allclose(v, levels[0]) for v in levels):
        return None
    return levels[0]


bins = st.integers(1, 7).flatmap(
    lambda k: st.tuples(
        st.lists(st.integers(0, 9), min_size=k, max_size=k),
        st.lists(st.floats(0, 1), min_size=k, max_size=k),
    )
)


@SETTINGS
@given(bins, st.integers(1, 4))
def test_the_fit_is_the_best_partition_by_bic(data: tuple[list[int], list[float]], g: int) -> None:
    count = np.array(data[0], dtype=float)
    wins = np.floor(np.array(data[1]) * (count + 1)).clip(0, count)
    fit = fit_step_histogram(count, wins, max_levels=g)
    if count.sum() == 0:
        assert fit.groups[0] == 0 and np.isnan(fit.levels).all()
        return
    expected = enumerated_fit(count, wins, g)
    assume(expected is not None)
    assert expected is not None
    # an empty bin's level is its group's: the oracle and the fit may put it on either side
    # of a cut (same likelihood), so compare the bins holding outcomes
    np.testing.assert_allclose(fit.levels[0][count > 0], expected, rtol=1e-9)


@SETTINGS
@given(bins, st.integers(1, 6))
def test_levels_are_monotone_probabilities_with_few_steps(
    data: tuple[list[int], list[float]], g: int
) -> None:
    count = np.array(data[0], dtype=float) * 3.5  # decayed statistics: fractional counts
    wins = np.array(data[1]) * count
    fit = fit_step_histogram(count, wins, max_levels=g)
    if count.sum() == 0:
        return
    levels = fit.levels[0]
    assert np.all(np.diff(levels) >= 0)
    assert np.all((levels > 0) & (levels < 1))  # the Jeffreys prior: never 0 or 1
    assert 1 <= fit.groups[0] <= g
    assert np.unique(levels).size <= fit.groups[0]


@SETTINGS
@given(bins, st.integers(0, 7), st.integers(1, 3))
def test_an_empty_bin_changes_nothing(
    data: tuple[list[int], list[float]], where: int, g: int
) -> None:
    count = np.array(data[0], dtype=float)
    wins = np.floor(np.array(data[1]) * (count + 1)).clip(0, count)
    at = min(where, count.size)
    wider = fit_step_histogram(np.insert(count, at, 0.0), np.insert(wins, at, 0.0), max_levels=g)
    fit = fit_step_histogram(count, wins, max_levels=g)
    has = count > 0
    assert wider.groups[0] == fit.groups[0]
    np.testing.assert_array_equal(np.delete(wider.levels[0], at)[has], fit.levels[0][has])


def test_rows_are_fitted_independently() -> None:
    rng = np.random.default_rng(5)
    count = rng.integers(0, 30, (12, 20)).astype(float)
    wins = np.floor(count * rng.random((12, 20)))
    together = fit_step_histogram(count, wins)
    for r in range(12):
        alone = fit_step_histogram(count[r], wins[r])
        np.testing.assert_array_equal(together.levels[r], alone.levels[0])
        assert together.groups[r] == alone.groups[0]


def test_a_step_is_found_where_it_is() -> None:
    rng = np.random.default_rng(8)
    x = (np.arange(20) + 0.5) / 20
    count = np.full(20, 200.0)
    wins = rng.binomial(200, np.where(x < 0.35, 0.2, 0.7)).astype(float)
    fit = fit_step_histogram(count, wins)
    assert fit.groups[0] == 2
    levels = fit.levels[0]
    assert np.all(levels[:7] == levels[0]) and np.all(levels[7:] == levels[-1])
    assert levels[0] == pytest.approx(0.2, abs=0.02) and levels[-1] == pytest.approx(0.7, abs=0.02)
    # a smooth curve needs more levels, up to the cap
    smooth = rng.binomial(2000, x).astype(float)
    assert fit_step_histogram(np.full(20, 2000.0), smooth).groups[0] == 6


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="max_levels"):
        fit_step_histogram(np.ones(3), np.zeros(3), max_levels=0)
    with pytest.raises(ValueError, match="same shape"):
        fit_step_histogram(np.ones(3), np.zeros(2))
    with pytest.raises(ValueError, match="successes <= count"):
        fit_step_histogram(np.ones(3), np.full(3, 2.0))
    with pytest.raises(ValueError, match="finite"):
        fit_step_histogram(np.array([1.0, np.nan]), np.zeros(2))


def test_docstring_examples() -> None:
    result = doctest.testmod(importlib.import_module("analytics_engine.step_histogram"))
    assert result.attempted > 0 and result.failed == 0
