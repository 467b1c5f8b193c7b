"""Equal-width confidence bins with scikit-learn's edges: ``calibration_curve(strategy="uniform")``.

The edges are ``np.linspace(0, 1, n_bins + 1)`` and a confidence goes to
``np.searchsorted(edges[1:-1], p, side="left")``: every bin holds its upper edge and not its
lower one, except the first, which holds 0. So ``p = 0.7`` with 20 bins is in bin 13,
``(0.65, 0.7000000000000001]``, as scikit-learn counts it. Edge ``k`` is ``k · (1 / n_bins)``
exactly (what numpy's ``linspace`` computes), which the scalar path and the compiled kernel use
instead of a search: ``floor(p · n_bins)``, moved down one bin when ``p`` is at or below that
bin's lower edge, up one when above its upper edge.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def bin_edges(n_bins: int) -> NDArray[np.float64]:
    """The ``n_bins + 1`` edges, scikit-learn's ``np.linspace(0, 1, n_bins + 1)``.

    >>> bin_edges(4).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    return np.linspace(0.0, 1.0, n_bins + 1)


def bin_of(p: float, n_bins: int) -> int:
    """Bin of one confidence ``p`` in [0, 1] (not checked): the scalar path.

    >>> bin_of(0.7, 20), bin_of(0.7000000000000002, 20), bin_of(0.0, 20), bin_of(1.0, 20)
    (13, 14, 0, 19)
    """
    k = int(p * n_bins)
    if k >= n_bins:
        k = n_bins - 1
    step = 1.0 / n_bins
    if k and p <= k * step:
        return k - 1
    if k < n_bins - 1 and p > (k + 1) * step:
        return k + 1
    return k


def bins_of(p: NDArray[np.float64], n_bins: int) -> NDArray[np.intp]:
    """Bins of an array of confidences in [0, 1] (not checked): scikit-learn's search."""
    return np.searchsorted(bin_edges(n_bins)[1:-1], p, side="left")
