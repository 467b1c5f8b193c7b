"""Weighted pool-adjacent-violators (PAV) for isotonic regression on a few aggregates."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def pool_adjacent_violators(values: ArrayLike, weights: ArrayLike) -> NDArray[np.float64]:
    """Non-decreasing least-squares fit to ``values`` (already in the order of the covariate)
    with positive ``weights`` (Ayer et al. 1955; Barlow et al. 1972).

    The loop runs over aggregates (bins), never over samples.

    >>> pool_adjacent_violators([0.1, 0.5, 0.3, 0.9], [1, 1, 1, 1]).tolist()
    [0.1, 0.4, 0.4, 0.9]
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if v.ndim != 1 or v.shape != w.shape:
        raise ValueError("values and weights must be one-dimensional and of the same length")
    if not (np.isfinite(v).all() and np.isfinite(w).all()):
        raise ValueError("values and weights must be finite")
    if (w <= 0).any():
        raise ValueError("weights must be positive")
    means: list[float] = []
    totals: list[float] = []
    sizes: list[int] = []
    for value, weight in zip(v.tolist(), w.tolist(), strict=True):
        mean, total, size = value, weight, 1
        while means and means[-1] >= mean:
            prev_total = totals.pop()
            mean = (means.pop() * prev_total + mean * total) / (prev_total + total)
            total += prev_total
            size += sizes.pop()
        means.append(mean)
        totals.append(total)
        sizes.append(size)
    return np.repeat(np.asarray(means), sizes)
