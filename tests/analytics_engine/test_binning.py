"""Confidence bins follow scikit-learn's ``calibration_curve(strategy="uniform")`` exactly: its
edges, each bin holding its upper edge; oracle: scikit-learn itself."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve

from analytics_engine.binning import bin_edges, bin_of, bins_of
from analytics_engine.calibration_batch import batch_sums
from analytics_engine.calibration_stats import CalibrationStats, bin_index, contribution

SETTINGS = settings(max_examples=300, deadline=None)


def sklearn_bins(p: np.ndarray, n_bins: int) -> np.ndarray:
    # scikit-learn 1.x, sklearn/calibration.py calibration_curve, strategy="uniform"
    bins = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(bins[1:-1], p)


@st.composite
def confidences_near_edges(draw: st.DrawFn) -> tuple[float, int]:
    """A bin count and a confidence: anywhere in [0, 1], on an edge (as k / n or as numpy's
    k · (1 / n)), or one ulp either side of one."""
    n_bins = draw(st.one_of(st.integers(1, 40), st.sampled_from([100, 1000, 12345])))
    k = draw(st.integers(0, n_bins))
    edge = draw(st.sampled_from([k / n_bins, k * (1.0 / n_bins)]))
    p = draw(
        st.one_of(
            st.floats(0.0, 1.0),
            st.just(edge),
            st.just(math.nextafter(edge, 0.0)),
            st.just(math.nextafter(edge, 1.0)),
        )
    )
    return min(max(p, 0.0), 1.0), n_bins


def test_edges_are_scikit_learns_and_k_times_the_width() -> None:
    # The scalar path and the compiled kernel compute edge k as k · (1 / n) instead of
    # searching the edges: the same doubles as numpy's linspace.
    for n_bins in range(1, 3001):
        edges = bin_edges(n_bins)
        np.testing.assert_array_equal(edges, np.linspace(0.0, 1.0, n_bins + 1))
        np.testing.assert_array_equal(edges[:-1], np.arange(n_bins) * (1.0 / n_bins))


@SETTINGS
@given(confidences_near_edges())
def test_bin_index_equals_scikit_learns_bin(case: tuple[float, int]) -> None:
    p, n_bins = case
    expected = int(sklearn_bins(np.array([p]), n_bins)[0])
    assert bin_of(p, n_bins) == expected
    assert bin_index(p, n_bins=n_bins) == expected
    assert bin_index([p], n_bins=n_bins).tolist() == [expected]
    assert bins_of(np.array([p]), n_bins).tolist() == [expected]
    assert contribution(p, 1.0, n_bins=n_bins).bin == expected


@SETTINGS
@given(
    cases=st.lists(confidences_near_edges(), min_size=1, max_size=50),
    seed=st.integers(0, 2**32 - 1),
)
def test_batch_counts_per_bin_equal_scikit_learns(
    cases: list[tuple[float, int]], seed: int, batch_implementation: str
) -> None:
    n_bins = cases[0][1]
    p = np.array([case[0] for case in cases])
    y = (np.random.default_rng(seed).random(p.size) < 0.5).astype(float)
    sums = batch_sums(p, y, n_bins=n_bins, implementation=batch_implementation)
    counts = np.bincount(sklearn_bins(p, n_bins), minlength=n_bins)
    np.testing.assert_array_equal(sums[0], counts)
    np.testing.assert_array_equal(sums[3], np.bincount(sklearn_bins(p, n_bins), y, n_bins))


@pytest.mark.parametrize("n_bins", [5, 10, 20])
def test_round_confidences_give_scikit_learns_curve(n_bins: int) -> None:
    # The case that used to differ: round confidences sit on the edges.
    rng = np.random.default_rng(11)
    p = rng.choice([0.05, 0.1, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0], 5000)
    p = np.concatenate([p, rng.random(2000), [0.0]])
    y = (rng.random(p.size) < p * 0.9).astype(float)
    stats = CalibrationStats.from_arrays(p, y, n_bins=n_bins)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    nonempty = stats.count > 0
    np.testing.assert_array_equal(stats.count, np.bincount(sklearn_bins(p, n_bins), None, n_bins))
    np.testing.assert_array_equal(stats.sum_y[nonempty] / stats.count[nonempty], prob_true)
    np.testing.assert_allclose(stats.sum_p[nonempty] / stats.count[nonempty], prob_pred, rtol=1e-12)


@SETTINGS
@given(st.lists(confidences_near_edges(), min_size=1, max_size=40))
def test_repeated_add_bins_as_scikit_learn(cases: list[tuple[float, int]]) -> None:
    n_bins = cases[0][1]
    stats = CalibrationStats.empty(n_bins)
    for p, _ in cases:
        stats.add(p, 1.0)
    p = np.array([case[0] for case in cases])
    np.testing.assert_array_equal(stats.count, np.bincount(sklearn_bins(p, n_bins), None, n_bins))
