"""Agreement between judges: weighted kappa against a hand-worked example and scikit-learn,
pairwise rating agreement against a hand count and brute force, correlation against scipy."""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import cohen_kappa_score

import analytics_engine.agreement as agreement
from analytics_engine.agreement import (
    disagreement_weights,
    pearson_correlation,
    rating_agreement,
    weighted_kappa,
)

# The 3 x 3 table of two raters over 19 items printed by SAS PROC FREQ (AGREE option) and
# reproduced in statsmodels' stats/tests/test_inter_rater.py (`table10`, class
# TestWeightedCohens): rows rater A, columns rater B, categories 1..3.
TABLE10 = np.array([[0, 4, 1], [0, 8, 0], [0, 1, 5]])


def _raters(table: np.ndarray) -> tuple[list[int], list[int]]:
    a, b = [], []
    for (i, j), count in np.ndenumerate(table):
        a += [i + 1] * int(count)
        b += [j + 1] * int(count)
    return a, b


def test_quadratic_kappa_of_the_sas_table_worked_by_hand() -> None:
    # n = 19; row sums (A) 5, 8, 6; column sums (B) 0, 13, 6.
    # Quadratic weights for k = 3: w = (|i - j| / 2)^2 -> 0.25 one step apart, 1 two apart.
    # Observed: cells off the diagonal (1,2) x4 -> 1.0, (1,3) x1 -> 1.0, (3,2) x1 -> 0.25,
    #   sum w*o = 2.25, divided by n: 2.25 / 19.
    # Chance: sum_ij w_ij r_i c_j / n^2 with r = (5, 8, 6), c = (0, 13, 6):
    #   row 1: 0.25*5*13 + 1*5*6 = 46.25; row 2: 0.25*8*6 = 12; row 3: 0.25*6*13 = 19.5
    #   -> 77.75 / 361.
    # kappa = 1 - (2.25 / 19) / (77.75 / 361) = 1 - 42.75 / 77.75 = 35 / 77.75 = 140 / 311.
    a, b = _raters(TABLE10)
    result = weighted_kappa(a, b, low=1, high=3)
    assert result.count == 19
    assert result.observed == pytest.approx(2.25 / 19, rel=1e-12)
    assert result.expected == pytest.approx(77.75 / 361, rel=1e-12)
    assert result.kappa == pytest.approx(140 / 311, rel=1e-12)


def test_linear_kappa_of_the_sas_table_matches_the_sas_printout() -> None:
    # By hand with linear weights (0.5 one step apart): observed 3.5 / 19, chance 125.5 / 361,
    # kappa = 1 - 66.5 / 125.5 = 118 / 251 = 0.47012; SAS prints "Weighted Kappa 0.4701".
    a, b = _raters(TABLE10)
    result = weighted_kappa(a, b, low=1, high=3, weights="linear")
    assert result.kappa == pytest.approx(118 / 251, rel=1e-12)
    assert round(result.kappa, 4) == 0.4701


@pytest.mark.parametrize("weights", ["quadratic", "linear"])
@pytest.mark.parametrize("seed", range(8))
def test_weighted_kappa_equals_scikit_learn(weights: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    a = rng.integers(1, 6, size=n)
    # Rater B agrees loosely with A; some categories may go unused by both.
    b = np.clip(a + rng.integers(-2, 3, size=n), 1, 5)
    if seed % 2:
        a = np.where(a == 3, 4, a)  # leave category 3 unused: it still counts in distances
        b = np.where(b == 3, 2, b)
    ours = weighted_kappa(a, b, weights=weights)
    oracle = cohen_kappa_score(a, b, labels=[1, 2, 3, 4, 5], weights=weights)
    if math.isnan(oracle):
        assert math.isnan(ours.kappa)
    else:
        assert ours.kappa == pytest.approx(oracle, abs=1e-12)


def test_weighted_kappa_properties() -> None:
    rng = np.random.default_rng(7)
    a = rng.integers(1, 6, size=40)
    b = np.clip(a + rng.integers(-1, 2, size=40), 1, 5)
    base = weighted_kappa(a, b).kappa
    order = rng.permutation(40)
    assert weighted_kappa(a[order], b[order]).kappa == pytest.approx(base, abs=1e-12)
    assert weighted_kappa(b, a).kappa == pytest.approx(base, abs=1e-12)  # symmetric weights
    assert weighted_kappa(a, a).kappa == 1.0
    assert -1.0 <= base <= 1.0
    # Opposite ends every time: as bad as it gets for these marginals.
    assert weighted_kappa([1, 5, 1, 5], [5, 1, 5, 1]).kappa < 0
    # Constant and equal: chance disagreement 0, kappa undefined; empty input likewise.
    assert math.isnan(weighted_kappa([4, 4], [4, 4]).kappa)
    assert weighted_kappa([], []).count == 0 and math.isnan(weighted_kappa([], []).kappa)


def test_disagreement_weights() -> None:
    assert disagreement_weights(5)[0].tolist() == [0.0, 1 / 16, 4 / 16, 9 / 16, 1.0]
    assert disagreement_weights(5, weights="linear")[0].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ValueError, match="weights must be"):
        disagreement_weights(5, weights="cubic")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: weighted_kappa([1, 2], [1]), "rater_a and rater_b rate different numbers"),
        (lambda: weighted_kappa([1, 6], [1, 2]), r"rater_a has values outside \[1, 5\]"),
        (lambda: weighted_kappa([1, 2], [1, 2.5]), "rater_b has values that are not whole"),
        (lambda: weighted_kappa([1, float("nan")], [1, 2]), "rater_a contains NaN"),
        (lambda: weighted_kappa([1], [1], low=3, high=3), "high > low"),
        (lambda: rating_agreement([1, 2], [1]), "items must label each rating"),
        (lambda: rating_agreement([1], [0]), r"ratings has values outside \[1, 5\]"),
        (lambda: pearson_correlation([1, 2], [1]), "x and y must be paired"),
        (lambda: pearson_correlation([1, np.inf], [1, 2]), "must not contain NaN"),
    ],
)
def test_bad_input_names_the_argument(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_rating_agreement_worked_by_hand() -> None:
    # Thread 10 rated 4, 4, 5: pairs (4,4) (4,5) (4,5) -> 3 pairs, differences 0+1+1, 1 equal.
    # Thread 20 rated 2, 5: 1 pair, difference 3. Thread 30 rated once: no pair, left out.
    # 4 pairs; mean absolute difference (0+1+1+3)/4 = 1.25; exact agreement 1/4.
    result = rating_agreement([10, 20, 10, 30, 10, 20], [4, 2, 4, 3, 5, 5])
    assert (result.items, result.pairs) == (2, 4)
    assert result.mean_absolute_difference == 1.25 and result.exact_agreement == 0.25


@pytest.mark.parametrize("seed", range(5))
def test_rating_agreement_equals_brute_force_over_pairs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    items = rng.integers(0, 12, size=50)
    ratings = rng.integers(1, 6, size=50)
    differences = []
    for item in np.unique(items):
        rated = ratings[items == item]
        differences += [abs(int(x) - int(y)) for x, y in itertools.combinations(rated, 2)]
    result = rating_agreement(items, ratings)
    assert result.pairs == len(differences)
    assert result.mean_absolute_difference == pytest.approx(np.mean(differences), abs=1e-12)
    assert result.exact_agreement == pytest.approx(np.mean(np.equal(differences, 0)), abs=1e-12)
    order = rng.permutation(50)
    shuffled = rating_agreement(items[order], ratings[order])
    assert shuffled == result


def test_rating_agreement_without_pairs_is_undefined() -> None:
    for result in (rating_agreement([], []), rating_agreement([1, 2], [3, 3])):
        assert result.pairs == 0 and math.isnan(result.mean_absolute_difference)
        assert math.isnan(result.exact_agreement)


def test_pearson_correlation_equals_scipy() -> None:
    rng = np.random.default_rng(3)
    x = rng.random(30)
    y = 0.5 * x + rng.random(30)
    assert pearson_correlation(x, y) == pytest.approx(pearsonr(x, y).statistic, abs=1e-12)
    assert math.isnan(pearson_correlation([1.0, 1.0, 1.0], [0.1, 0.2, 0.3]))
    assert math.isnan(pearson_correlation([0.5], [0.5]))


def test_docstring_examples() -> None:
    result = doctest.testmod(agreement)
    assert result.attempted >= 4 and result.failed == 0
