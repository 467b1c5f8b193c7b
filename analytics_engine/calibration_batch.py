"""Per-bin sums of a batch of outcomes (the engine's batch path): the compiled kernel
``_batch_kernel`` (``_batch_kernel.c``) where the package was built with a C compiler, else
the same sums in numpy, several times slower. This module chooses (``DEFAULT_IMPLEMENTATION``);
``IMPLEMENTATIONS`` holds every one that is available, for tests and benchmarks.

Both add, per bin, each outcome's terms as ``calibration_stats`` defines them: count, p, p²,
y, y², p·y, (p − y)², the log-loss term, (y − p)(1 − 2p) and (1 − 2p)² p(1 − p), the last
three term by term (derived from the moments, they cancel when p is close to y, and a sum of
squares must never come out negative). Binary outcomes (the common case) go to a row per
(bin, y), so that Σy, Σy² and Σpy come out of the count and Σp of the y = 1 rows. Partial sums
are added into the totals with compensated summation (Neumaier 1974).

The kernel makes one pass over blocks of ``BLOCK`` outcomes (validate, then bins and log
terms vectorised with its own log to < 1 ulp, then a scatter-add), with the GIL released. The
numpy path validates first, then takes one ``np.bincount`` per sum over cache-sized chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analytics_engine.binning import bins_of

try:
    from analytics_engine import _batch_kernel
except ImportError as exc:  # installed without a C compiler: setuptools skipped the kernel
    _KERNEL_MISSING = f"analytics_engine._batch_kernel is not built ({exc})"
else:
    _KERNEL_MISSING = ""

LOG_EPS = 1e-15  # the clipping of p inside log loss (scikit-learn's historical eps)
BLOCK = 1024  # outcomes per block of the kernel: a bad value is reported for the first block
_N_FIELDS = 10  # STAT_FIELDS
_CHUNK = 1 << 15  # outcomes per chunk of the numpy path: keeps its temporaries in the cache
_BAD_P = "p has values outside [0, 1] or NaN"
_BAD_Y = "y has values outside [0, 1] or NaN"

BatchSums = Callable[[ArrayLike, ArrayLike, int], NDArray[np.float64]]


def _compiled_batch_sums(p: ArrayLike, y: ArrayLike, n_bins: int) -> NDArray[np.float64]:
    out = np.empty((_N_FIELDS, n_bins))
    status = _batch_kernel.batch_sums(
        np.ascontiguousarray(p, dtype=np.float64), np.ascontiguousarray(y, dtype=np.float64), out
    )
    if status == _batch_kernel.STATUS_BAD_P:
        raise ValueError(_BAD_P)
    if status == _batch_kernel.STATUS_BAD_Y:
        raise ValueError(_BAD_Y)
    return out


def _numpy_batch_sums(p: ArrayLike, y: ArrayLike, n_bins: int) -> NDArray[np.float64]:
    pa = np.asarray(p, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if pa.ndim != 1 or ya.ndim != 1 or pa.shape != ya.shape:
        raise ValueError("p and y must be 1-D arrays of the same length")
    _check_unit_intervals(pa, ya)
    total = np.zeros((_N_FIELDS, n_bins))
    comp = np.zeros((_N_FIELDS, n_bins))
    chunk = max(_CHUNK, n_bins)  # with many bins, fewer bincounts of 2·n_bins each
    for start in range(0, pa.size, chunk):
        part = _chunk_sums(pa[start : start + chunk], ya[start : start + chunk], n_bins)
        _add_compensated(total, comp, part)
    return total + comp


def _check_unit_intervals(p: NDArray[np.float64], y: NDArray[np.float64]) -> None:
    """``ValueError`` naming ``p`` or ``y`` as the kernel does: the first one at fault in the
    first block of ``BLOCK`` outcomes that holds a bad value."""
    if p.size == 0 or (p.min() >= 0.0 and p.max() <= 1.0 and y.min() >= 0.0 and y.max() <= 1.0):
        return  # NaN fails the comparisons
    first_bad = [np.flatnonzero(~((a >= 0.0) & (a <= 1.0)))[:1] for a in (p, y)]
    block_p, block_y = (bad[0] // BLOCK if bad.size else np.inf for bad in first_bad)
    raise ValueError(_BAD_P if block_p <= block_y else _BAD_Y)


def _chunk_sums(p: NDArray[np.float64], y: NDArray[np.float64], n_bins: int) -> NDArray[np.float64]:
    """``STAT_FIELDS`` sums per bin of one chunk of valid outcomes, plainly summed. The terms
    are those of ``calibration_stats._values``, computed in place (fewer temporaries)."""
    k: NDArray[np.signedinteger] = bins_of(p, n_bins)  # scikit-learn's bins
    e = p - y
    d = p * -2.0
    d += 1.0  # 1 − 2p
    sq = e * e  # (p − y)²
    num = e * d
    np.negative(num, out=num)  # (y − p)(1 − 2p)
    var = d * d
    var *= p
    var *= 1.0 - p  # (1 − 2p)² p (1 − p)
    pc = np.clip(p, LOG_EPS, 1.0 - LOG_EPS)
    ones = y == 1.0
    if (ones | (y == 0.0)).all():  # binary: one log each, and Σy, Σy², Σpy from the y = 1 rows
        log_term = 1.0 - pc
        np.copyto(log_term, pc, where=ones)
        np.log(log_term, out=log_term)
        k += k + ones  # row 2·bin + y
        rows = [np.bincount(k, minlength=2 * n_bins)] + [
            np.bincount(k, t, 2 * n_bins) for t in (p, p * p, sq, log_term, num, var)
        ]
        split = np.stack(rows).reshape(len(rows), n_bins, 2)  # [sum, bin, y]
        count, sp, sp2, ssq, slog, snum, svar = split.sum(axis=2)
        sy = sy2 = split[0, :, 1]
        spy = split[1, :, 1]
    else:
        log_term = y * np.log(pc)
        log_term += (1.0 - y) * np.log(1.0 - pc)
        count = np.bincount(k, minlength=n_bins)
        sp, sp2, sy, sy2, spy, ssq, slog, snum, svar = (
            np.bincount(k, t, n_bins) for t in (p, p * p, y, y * y, p * y, sq, log_term, num, var)
        )
    return np.stack((count, sp, sp2, sy, sy2, spy, ssq, -slog, snum, svar))


def _add_compensated(
    total: NDArray[np.float64], comp: NDArray[np.float64], part: NDArray[np.float64]
) -> None:
    """``total += part``, keeping the rounding error of each addition in ``comp`` (Neumaier)."""
    t = total + part
    comp += np.where(np.abs(total) >= np.abs(part), (total - t) + part, (part - t) + total)
    total[...] = t


IMPLEMENTATIONS: Mapping[str, BatchSums] = MappingProxyType(
    {"numpy": _numpy_batch_sums}
    if _KERNEL_MISSING
    else {"compiled": _compiled_batch_sums, "numpy": _numpy_batch_sums}
)
DEFAULT_IMPLEMENTATION = "numpy" if _KERNEL_MISSING else "compiled"


def batch_sums(
    p: ArrayLike, y: ArrayLike, *, n_bins: int, implementation: str = DEFAULT_IMPLEMENTATION
) -> NDArray[np.float64]:
    """``STAT_FIELDS`` sums per bin, shape ``(10, n_bins)``, of 1-D arrays ``p`` and ``y`` of
    equal length (converted to float64); ``ValueError`` if a value is outside [0, 1] or NaN
    (naming ``p`` or ``y``: the first one at fault in the first block of ``BLOCK`` outcomes
    that holds a bad value). ``implementation`` is a key of ``IMPLEMENTATIONS``.

    >>> sums = batch_sums(np.array([0.25, 0.75, 1.0]), np.array([0.0, 1.0, 1.0]), n_bins=2)
    >>> sums[0].tolist(), sums[3].tolist()  # count and Σy per bin
    ([1.0, 2.0], [0.0, 2.0])
    """
    compute = IMPLEMENTATIONS.get(implementation)
    if compute is None:
        missing = f"; {_KERNEL_MISSING}" if implementation == "compiled" else ""
        raise ValueError(
            f"implementation must be one of {', '.join(map(repr, IMPLEMENTATIONS))}, "
            f"got {implementation!r}{missing}"
        )
    return compute(p, y, n_bins)
