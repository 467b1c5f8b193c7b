"""Vectorised per-bin sums of a batch of outcomes (the engine's batch path).

The batch is processed in blocks that fit the CPU cache, with one ``np.bincount`` per moment
and no Python loop over samples. Binary outcomes (the common case) take a faster route: the bin
index is split by ``y``, so that Σy and Σpy come out of the count and Σp passes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

LOG_EPS = 1e-15  # the clipping of p inside log loss (scikit-learn's historical eps)
_CHUNK = 1 << 15  # outcomes per block: keeps the temporaries in the CPU cache


def batch_sums(p: NDArray[np.float64], y: NDArray[np.float64], *, n_bins: int) -> NDArray:
    """``STAT_FIELDS`` sums per bin, shape ``(10, n_bins)``, of 1-D float arrays ``p`` and
    ``y`` of equal length; ``ValueError`` if a value is outside [0, 1] or NaN.

    >>> sums = batch_sums(np.array([0.25, 0.75, 1.0]), np.array([0.0, 1.0, 1.0]), n_bins=2)
    >>> sums[0].tolist(), sums[3].tolist()  # count and Σy per bin
    ([1.0, 2.0], [0.0, 2.0])
    """
    acc_binary = np.zeros((5, 2 * (n_bins + 1)))
    acc_fractional = np.zeros((8, n_bins + 1))
    for start in range(0, p.size, _CHUNK):
        stop = start + _CHUNK
        _accumulate(acc_binary, acc_fractional, p[start:stop], y[start:stop])
    return _table_from_moments(_fold(acc_binary, acc_fractional))


# -- vectorised accumulation ------------------------------------------------------------------
# Per block, binary outcomes go through a split index (bin, y) and 5 bincounts of count, p, p²,
# log loss and q² (q = p(1 − p)); fractional outcomes through 8 bincounts of count, p, p², y, y²,
# p·y, log loss, q². Bin n_bins (p = 1) is folded into the last bin once, in _fold. sum_sq_err,
# sum_spieg_num and sum_spieg_var are linear in these moments (_table_from_moments), which
# saves passes over the data.


def _accumulate(
    acc_binary: NDArray[np.float64],
    acc_fractional: NDArray[np.float64],
    p: NDArray[np.float64],
    y: NDArray[np.float64],
) -> None:
    p_min, p_max = p.min(), p.max()
    if not (p_min >= 0.0 and p_max <= 1.0):
        raise ValueError("p has values outside [0, 1] or NaN")
    m = acc_fractional.shape[1]  # n_bins + 1
    kf = p * (m - 1)
    np.floor(kf, out=kf)  # bin; p = 1 lands in bin n_bins, folded into the last one by _fold
    if p_min >= LOG_EPS and p_max <= 1.0 - LOG_EPS:
        pc = p  # nothing to clip (the usual case)
    else:
        pc = np.maximum(p, LOG_EPS)
        np.minimum(pc, 1.0 - LOG_EPS, out=pc)
    p2 = p * p
    q2 = p - p2
    q2 *= q2
    yb = y > 0.5
    binary = not (y != yb).any()  # also proves y in {0, 1}: NaN differs from everything
    if binary:
        kf += y * m  # exact: whole numbers
        k = kf.astype(np.intp)
        ll = np.where(yb, pc, 1.0 - pc)
        np.log(ll, out=ll)
        m2 = 2 * m
        acc_binary[0] += np.bincount(k, minlength=m2)
        acc_binary[1] += np.bincount(k, p, m2)
        acc_binary[2] += np.bincount(k, p2, m2)
        acc_binary[3] -= np.bincount(k, ll, m2)
        acc_binary[4] += np.bincount(k, q2, m2)
    else:
        if not (y.min() >= 0.0 and y.max() <= 1.0):
            raise ValueError("y has values outside [0, 1] or NaN")
        k = kf.astype(np.intp)
        l1 = np.log(pc)
        l0 = np.log(1.0 - pc)
        l1 -= l0
        l1 *= y
        l1 += l0  # y·log p_c + (1 − y)·log(1 − p_c)
        acc_fractional[0] += np.bincount(k, minlength=m)
        acc_fractional[1] += np.bincount(k, p, m)
        acc_fractional[2] += np.bincount(k, p2, m)
        acc_fractional[3] += np.bincount(k, y, m)
        acc_fractional[4] += np.bincount(k, y * y, m)
        acc_fractional[5] += np.bincount(k, p * y, m)
        acc_fractional[6] -= np.bincount(k, l1, m)
        acc_fractional[7] += np.bincount(k, q2, m)


def _fold(acc_binary: NDArray[np.float64], acc_fractional: NDArray[np.float64]) -> NDArray:
    """Moments (count, Σp, Σp², Σy, Σy², Σpy, Σlog loss, Σq²) of shape (8, n_bins)."""
    m = acc_fractional.shape[1]
    split = acc_binary.reshape(5, 2, m)  # [moment, y, bin]
    count, sp, sp2, sll, sq2 = split.sum(axis=1)
    ones = split[0, 1]  # count of y = 1 = Σy = Σy²
    acc = acc_fractional + np.stack((count, sp, sp2, ones, ones, split[1, 1], sll, sq2))
    acc[:, -2] += acc[:, -1]
    return acc[:, :-1]


def _table_from_moments(acc: NDArray[np.float64]) -> NDArray[np.float64]:
    count, sp, sp2, sy, sy2, spy, sll, sq2 = acc
    return np.stack(
        (
            count,
            sp,
            sp2,
            sy,
            sy2,
            spy,
            sp2 - 2.0 * spy + sy2,  # Σ(p − y)²
            sll,
            sy - sp - 2.0 * spy + 2.0 * sp2,  # Σ(y − p)(1 − 2p)
            (sp - sp2) - 4.0 * sq2,  # Σ q(1 − 4q) = Σ(1 − 2p)² p(1 − p), q = p(1 − p)
        )
    )
