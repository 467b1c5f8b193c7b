"""Per-bin sums of a batch of outcomes (the engine's batch path), computed by the compiled
kernel ``_batch_kernel`` (``_batch_kernel.c``) in one pass over cache-sized blocks.

Per block, the kernel validates ``p`` and ``y``, computes each outcome's bin and log-loss term
(vectorised, with its own log to < 1 ulp) and adds the moments count, Σp, Σp², Σy, Σy², Σpy,
Σlog loss and Σq² (q = p(1 − p)) to per-bin rows; binary outcomes (the common case) go to a
row per (bin, y), so that Σy, Σy² and Σpy come out of the count and Σp of the y = 1 rows.
``sum_sq_err``, ``sum_spieg_num`` and ``sum_spieg_var`` are linear in these moments and derived
per bin. Partial sums are added into the totals with compensated summation, so that every sum
is as exact as summing the per-outcome formulas in float64 (usually more).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from analytics_engine import _batch_kernel

LOG_EPS = 1e-15  # the clipping of p inside log loss (scikit-learn's historical eps)
_N_FIELDS = 10  # STAT_FIELDS
_ERRORS = {
    _batch_kernel.STATUS_BAD_P: "p has values outside [0, 1] or NaN",
    _batch_kernel.STATUS_BAD_Y: "y has values outside [0, 1] or NaN",
}


def batch_sums(p: NDArray[np.float64], y: NDArray[np.float64], *, n_bins: int) -> NDArray:
    """``STAT_FIELDS`` sums per bin, shape ``(10, n_bins)``, of 1-D float arrays ``p`` and
    ``y`` of equal length; ``ValueError`` if a value is outside [0, 1] or NaN (naming ``p``
    or ``y``: the first one at fault in the first block of ``_batch_kernel.BLOCK`` outcomes
    that holds a bad value).

    >>> sums = batch_sums(np.array([0.25, 0.75, 1.0]), np.array([0.0, 1.0, 1.0]), n_bins=2)
    >>> sums[0].tolist(), sums[3].tolist()  # count and Σy per bin
    ([1.0, 2.0], [0.0, 2.0])
    """
    out = np.empty((_N_FIELDS, n_bins))
    status = _batch_kernel.batch_sums(
        np.ascontiguousarray(p, dtype=np.float64), np.ascontiguousarray(y, dtype=np.float64), out
    )
    if status:
        raise ValueError(_ERRORS[status])
    return out
