"""Agreement between judges: Cohen's (1968) weighted kappa of two raters on an ordinal scale,
pairwise agreement of several raters per item, and Pearson's correlation of two judgements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Weights = Literal["quadratic", "linear"]
_POWER = {"linear": 1, "quadratic": 2}


@dataclass(frozen=True)
class WeightedKappa:
    """Cohen's weighted kappa of two raters over ``count`` items.

    ``observed`` and ``expected`` are the mean weighted disagreements, observed and expected by
    chance from the raters' own marginals (weights in [0, 1]); ``kappa`` is NaN when chance
    disagreement is 0 (both raters used one and the same category) or there are no items.
    """

    kappa: float
    observed: float
    expected: float
    count: int


@dataclass(frozen=True)
class RatingAgreement:
    """Agreement of the ratings given to the same item by several raters, over every unordered
    pair of ratings of an item (items with one rating have no pair and are left out).

    ``mean_absolute_difference`` is in scale points; ``exact_agreement`` the share of pairs
    with equal ratings. Both are NaN without pairs.
    """

    items: int  # items with at least two ratings
    pairs: int
    mean_absolute_difference: float
    exact_agreement: float


def _ratings(name: str, values: ArrayLike, low: int, high: int) -> NDArray[np.int64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if (array != np.round(array)).any():
        raise ValueError(f"{name} has values that are not whole scale points")
    if ((array < low) | (array > high)).any():
        raise ValueError(f"{name} has values outside [{low}, {high}]")
    return array.astype(np.int64) - low


def _scale(low: int, high: int) -> int:
    if int(low) != low or int(high) != high or not high > low:
        raise ValueError(f"the scale must be whole numbers with high > low, got [{low}, {high}]")
    return int(high - low + 1)


def disagreement_weights(categories: int, *, weights: Weights = "quadratic") -> NDArray[np.float64]:
    """Cohen's (1968) disagreement weights ``w_ij = (|i - j| / (k - 1))^m``: m = 1 linear,
    m = 2 quadratic; 0 on the diagonal, 1 between the scale's ends.

    >>> disagreement_weights(3).tolist()
    [[0.0, 0.25, 1.0], [0.25, 0.0, 0.25], [1.0, 0.25, 0.0]]
    """
    if weights not in _POWER:
        raise ValueError(f"weights must be 'quadratic' or 'linear', got {weights!r}")
    if categories < 2:
        raise ValueError(f"categories must be at least 2, got {categories}")
    index = np.arange(categories, dtype=np.float64)
    distance = np.abs(index[:, None] - index[None, :]) / (categories - 1)
    return distance ** _POWER[weights]


def weighted_kappa(
    rater_a: ArrayLike,
    rater_b: ArrayLike,
    *,
    low: int = 1,
    high: int = 5,
    weights: Weights = "quadratic",
) -> WeightedKappa:
    """Cohen's (1968) weighted kappa of two raters who rated the same items on the ordinal
    scale ``low..high``:

        kappa_w = 1 - sum_ij w_ij p_ij / sum_ij w_ij p_i. p_.j

    with ``p_ij`` the share of items rated i by A and j by B, ``p_i.`` and ``p_.j`` the raters'
    marginal shares and ``w_ij`` the disagreement weights of ``disagreement_weights`` (Cohen,
    J. (1968), "Weighted kappa", Psychological Bulletin 70(4), 213-220; Fleiss, Levin & Paik
    (2003), Statistical Methods for Rates and Proportions, 3rd ed., sec. 18.1). The weights'
    scale cancels, so the result equals
    ``sklearn.metrics.cohen_kappa_score(a, b, labels=range(low, high + 1), weights=...)``:
    every category of the scale counts in the distances, whether used or not.

    >>> r = weighted_kappa([1, 1, 2, 3, 3], [1, 2, 2, 3, 2], low=1, high=3)
    >>> round(r.kappa, 4), r.count
    (0.6667, 5)
    """
    k = _scale(low, high)
    a = _ratings("rater_a", rater_a, low, high)
    b = _ratings("rater_b", rater_b, low, high)
    if a.shape != b.shape:
        raise ValueError(
            f"rater_a and rater_b rate different numbers of items: {a.size} and {b.size}"
        )
    n = a.size
    if n == 0:
        return WeightedKappa(
            kappa=float("nan"), observed=float("nan"), expected=float("nan"), count=0
        )
    w = disagreement_weights(k, weights=weights)
    joint = np.bincount(a * k + b, minlength=k * k).reshape(k, k) / n
    chance = np.outer(np.bincount(a, minlength=k) / n, np.bincount(b, minlength=k) / n)
    observed = float((w * joint).sum())
    expected = float((w * chance).sum())
    kappa = 1.0 - observed / expected if expected > 0 else float("nan")
    return WeightedKappa(kappa=kappa, observed=observed, expected=expected, count=int(n))


def rating_agreement(
    items: ArrayLike, ratings: ArrayLike, *, low: int = 1, high: int = 5
) -> RatingAgreement:
    """Pairwise agreement of the ratings of each item: over all unordered pairs of ratings of
    the same item, the mean absolute difference and the share of exact agreement. ``items``
    labels the item each rating belongs to (any integers, in any order).

    Counted per item from its histogram ``c`` over the scale, without enumerating pairs:
    pairs ``n(n - 1)/2``, equal pairs ``sum_k c_k(c_k - 1)/2``, summed differences
    ``c' D c / 2`` with ``D_kl = |k - l|``.

    >>> r = rating_agreement([7, 7, 7, 9, 9, 4], [4, 4, 5, 2, 5, 3])
    >>> r.items, r.pairs, r.mean_absolute_difference, r.exact_agreement
    (2, 4, 1.25, 0.25)
    """
    k = _scale(low, high)
    r = _ratings("ratings", ratings, low, high)
    labels = np.asarray(items)
    if labels.ndim != 1 or labels.shape != r.shape:
        raise ValueError(f"items must label each rating: {labels.size} labels for {r.size} ratings")
    if r.size == 0:
        return RatingAgreement(
            items=0, pairs=0, mean_absolute_difference=float("nan"), exact_agreement=float("nan")
        )
    _, item = np.unique(labels, return_inverse=True)
    groups = int(item.max()) + 1
    histogram = np.bincount(item * k + r, minlength=groups * k).reshape(groups, k)
    sizes = histogram.sum(axis=1)
    histogram = histogram[sizes >= 2].astype(np.float64)
    sizes = sizes[sizes >= 2].astype(np.float64)
    pairs = float((sizes * (sizes - 1) / 2).sum())
    if pairs == 0:
        return RatingAgreement(
            items=0, pairs=0, mean_absolute_difference=float("nan"), exact_agreement=float("nan")
        )
    equal = float((histogram * (histogram - 1) / 2).sum())
    index = np.arange(k, dtype=np.float64)
    distance = np.abs(index[:, None] - index[None, :])
    differences = float(np.einsum("gk,kl,gl->", histogram, distance, histogram) / 2)
    return RatingAgreement(
        items=int(sizes.size),
        pairs=int(pairs),
        mean_absolute_difference=differences / pairs,
        exact_agreement=equal / pairs,
    )


def pearson_correlation(x: ArrayLike, y: ArrayLike) -> float:
    """Pearson's product-moment correlation of two paired judgements (e.g. a person's rating and
    the agent's confidence); NaN with fewer than two pairs or when either does not vary.

    >>> round(pearson_correlation([0.0, 0.5, 1.0, 1.0], [0.1, 0.4, 0.7, 0.9]), 4)
    0.9699
    """
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"x and y must be paired one-dimensional arrays, got shapes {a.shape} and {b.shape}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("x and y must not contain NaN or infinite values")
    if a.size < 2:
        return float("nan")
    da, db = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((da * da).sum() * (db * db).sum()))
    if denominator <= 0.0:
        return float("nan")
    return float(np.clip((da * db).sum() / denominator, -1.0, 1.0))
