"""Types of the compiled kernel ``_batch_kernel.c`` (a C extension carries none of its own)."""

from typing import Final

import numpy as np
from numpy.typing import NDArray

BLOCK: Final[int]
MAX_BINS: Final[int]
STATUS_BAD_P: Final[int]
STATUS_BAD_Y: Final[int]

def batch_sums(p: NDArray[np.float64], y: NDArray[np.float64], out: NDArray[np.float64]) -> int:
    """Write the STAT_FIELDS sums per bin of the outcomes into ``out`` (shape ``(10, n_bins)``);
    0, or ``STATUS_BAD_P`` / ``STATUS_BAD_Y`` if p or y has a value outside [0, 1] or NaN."""
