"""Per-bin sufficient statistics of (confidence, outcome) pairs: the state every calibration
metric is computed from.

One outcome ``(p, y)`` with ``p`` the confidence and ``y`` the outcome normalised to [0, 1]
contributes to its equal-width confidence bin (``bin_index``: scikit-learn's edges, each bin
holding its upper edge, see ``binning``):

=================  =====================================================
``count``          1
``sum_p``          p
``sum_p2``         p²
``sum_y``          y
``sum_y2``         y²
``sum_py``         p·y
``sum_sq_err``     (p − y)²
``sum_log_loss``   −(y·log p_c + (1 − y)·log(1 − p_c)), p_c = clip(p, 1e-15, 1 − 1e-15)
``sum_spieg_num``  (y − p)(1 − 2p)          (Spiegelhalter 1986, numerator)
``sum_spieg_var``  (1 − 2p)² p (1 − p)       (Spiegelhalter 1986, variance)
=================  =====================================================

Every field is a plain sum, so the statistics of any union of outcomes are the sums of the
statistics of its parts: the backend keeps them as SQL counters and adds them up per scope.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analytics_engine.binning import bin_of, bins_of
from analytics_engine.calibration_batch import LOG_EPS, batch_sums

STAT_FIELDS: tuple[str, ...] = (
    "count",
    "sum_p",
    "sum_p2",
    "sum_y",
    "sum_y2",
    "sum_py",
    "sum_sq_err",
    "sum_log_loss",
    "sum_spieg_num",
    "sum_spieg_var",
)
DEFAULT_N_BINS = 20
_PENDING_LIMIT = 1 << 14  # outcomes ``add`` keeps before summing them (128 KiB per array)
_F = {name: i for i, name in enumerate(STAT_FIELDS)}


def _check_n_bins(n_bins: int) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    return int(n_bins)


def _check_unit_scalar(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= v <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be a finite number in [0, 1], got {value!r}")
    return v


def bin_index(p: float | ArrayLike, *, n_bins: int = DEFAULT_N_BINS) -> int | NDArray[np.intp]:
    """Equal-width bin of confidence ``p``, as scikit-learn's ``calibration_curve`` bins it:
    bin ``k`` is ``(edges[k], edges[k + 1]]`` with ``edges = np.linspace(0, 1, n_bins + 1)``,
    and ``p = 0`` is in bin 0 (``np.searchsorted(edges[1:-1], p, side="left")``).

    Returns an ``int`` for a scalar and an integer array for an array.

    >>> bin_index(0.0), bin_index(0.05), bin_index(0.0500001), bin_index(0.7), bin_index(1.0)
    (0, 0, 1, 13, 19)
    >>> bin_index([0.1, 0.55], n_bins=10).tolist()
    [0, 5]
    """
    n_bins = _check_n_bins(n_bins)
    if np.ndim(p) == 0:
        return bin_of(_check_unit_scalar(p, "p"), n_bins)
    arr = np.asarray(p, dtype=np.float64)
    if arr.size and not (arr.min() >= 0.0 and arr.max() <= 1.0):
        raise ValueError("p has values outside [0, 1] or NaN")
    return bins_of(arr, n_bins)


@dataclass(frozen=True, slots=True)
class BinContribution:
    """What one outcome adds to the counters of its bin (one attribute per ``STAT_FIELDS``)."""

    bin: int
    count: float
    sum_p: float
    sum_p2: float
    sum_y: float
    sum_y2: float
    sum_py: float
    sum_sq_err: float
    sum_log_loss: float
    sum_spieg_num: float
    sum_spieg_var: float

    def as_dict(self) -> dict[str, float]:
        """``{field: value}`` for every name in ``STAT_FIELDS`` (the bin is not included)."""
        return {name: getattr(self, name) for name in STAT_FIELDS}


def _values(p: float, y: float) -> tuple[float, ...]:
    pc = min(max(p, LOG_EPS), 1.0 - LOG_EPS)
    d = 1.0 - 2.0 * p
    return (
        1.0,
        p,
        p * p,
        y,
        y * y,
        p * y,
        (p - y) * (p - y),
        -(y * math.log(pc) + (1.0 - y) * math.log(1.0 - pc)),
        (y - p) * d,
        d * d * p * (1.0 - p),
    )


def contribution(p: float, y: float, *, n_bins: int = DEFAULT_N_BINS) -> BinContribution:
    """The increments one outcome adds to its bin, for the backend's atomic SQL update.

    >>> c = contribution(0.8, 1.0)
    >>> c.bin, c.count, round(c.sum_sq_err, 4), round(c.sum_log_loss, 4)
    (15, 1.0, 0.04, 0.2231)
    """
    n_bins = _check_n_bins(n_bins)
    pv = _check_unit_scalar(p, "p")
    yv = _check_unit_scalar(y, "y")
    return BinContribution(bin_of(pv, n_bins), *_values(pv, yv))


def _as_unit_array(values: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers in [0, 1]") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


class CalibrationStats:
    """Per-bin sufficient statistics (float64 arrays of shape ``(n_bins,)``, one per
    ``STAT_FIELDS`` name, available as attributes: ``stats.count``, ``stats.sum_p``, ...).

    ``count`` is a float so that exponentially forgotten statistics (``decayed``) keep their
    fractional weights; every metric then reads the counts as weights.

    >>> s = CalibrationStats.empty(n_bins=10)
    >>> s.add(0.95, 1.0)
    >>> s.add_many([0.95, 0.2], [0.0, 0.0])
    >>> s.n, s.count.tolist()[9], s.sum_y.tolist()[9]
    (3.0, 2.0, 1.0)
    """

    __slots__ = ("_pending_p", "_pending_y", "_sums")

    def __init__(self, table: NDArray[np.float64]) -> None:
        table = np.array(table, dtype=np.float64)  # owned copy
        if table.ndim != 2 or table.shape[0] != len(STAT_FIELDS) or table.shape[1] < 1:
            raise ValueError(f"table must have shape ({len(STAT_FIELDS)}, n_bins)")
        if not np.isfinite(table).all():
            raise ValueError("statistics contain NaN or infinite values")
        if (table[0] < 0).any():
            raise ValueError("count has negative values")
        self._sums = table
        # Outcomes given to ``add`` and not summed yet: summed in one batch when read.
        self._pending_p = array("d")
        self._pending_y = array("d")

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def empty(cls, n_bins: int = DEFAULT_N_BINS) -> Self:
        """Statistics of no outcomes."""
        return cls(np.zeros((len(STAT_FIELDS), _check_n_bins(n_bins))))

    @classmethod
    def from_bin_sums(cls, *, n_bins: int = DEFAULT_N_BINS, **arrays: ArrayLike) -> Self:
        """From one array of length ``n_bins`` per ``STAT_FIELDS`` name (all required)."""
        n_bins = _check_n_bins(n_bins)
        unknown = sorted(set(arrays) - set(STAT_FIELDS))
        if unknown:
            raise ValueError(f"unknown statistics: {', '.join(unknown)}")
        table = np.zeros((len(STAT_FIELDS), n_bins))
        for i, name in enumerate(STAT_FIELDS):
            if name not in arrays:
                raise ValueError(f"{name} is missing")
            arr = np.asarray(arrays[name], dtype=np.float64)
            if arr.shape != (n_bins,):
                raise ValueError(f"{name} must have shape ({n_bins},), got {arr.shape}")
            table[i] = arr
        return cls(table)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], *, n_bins: int = DEFAULT_N_BINS) -> Self:
        """From rows such as a SQL ``SELECT bin, SUM(count) AS count, ... GROUP BY bin``.

        Each row maps ``"bin"`` and every ``STAT_FIELDS`` name to a number (``Decimal`` is
        fine); bins absent from ``rows`` are empty and repeated bins are added up.

        >>> s = CalibrationStats.from_rows([contribution(0.8, 1.0).as_dict() | {"bin": 16}])
        >>> s.n
        1.0
        """
        n_bins = _check_n_bins(n_bins)
        table = np.zeros((len(STAT_FIELDS), n_bins))
        for row in rows:
            b = row.get("bin")
            if isinstance(b, bool) or not isinstance(b, int | np.integer) or not 0 <= b < n_bins:
                raise ValueError(f"bin must be an integer in [0, {n_bins}), got {b!r}")
            for i, name in enumerate(STAT_FIELDS):
                if name not in row:
                    raise ValueError(f"{name} is missing from the row of bin {b}")
                table[i, b] += float(row[name])
        return cls(table)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of ``to_dict``."""
        if "n_bins" not in data:
            raise ValueError("n_bins is missing")
        fields = {name: data[name] for name in STAT_FIELDS if name in data}
        return cls.from_bin_sums(n_bins=data["n_bins"], **fields)

    @classmethod
    def from_arrays(cls, p: ArrayLike, y: ArrayLike, *, n_bins: int = DEFAULT_N_BINS) -> Self:
        """Statistics of the outcomes ``(p[i], y[i])``."""
        stats = cls.empty(n_bins)
        stats.add_many(p, y)
        return stats

    # -- access -------------------------------------------------------------------------------
    @property
    def _table(self) -> NDArray[np.float64]:
        """The sums, outcomes pending from ``add`` included."""
        if self._pending_p:
            self._sum_pending()
        return self._sums

    def _sum_pending(self) -> None:
        p, y = self._pending_p, self._pending_y
        self._pending_p, self._pending_y = array("d"), array("d")
        self._sums += batch_sums(np.frombuffer(p), np.frombuffer(y), n_bins=self.n_bins)

    @property
    def n_bins(self) -> int:
        return self._sums.shape[1]

    @property
    def n(self) -> float:
        """Total (possibly decayed) count of outcomes."""
        return float(self._table[0].sum())

    def field(self, name: str) -> NDArray[np.float64]:
        """Read-only view of one statistic's per-bin array."""
        if name not in _F:
            raise ValueError(f"unknown statistic {name!r}")
        view = self._table[_F[name]]
        view.flags.writeable = False
        return view

    def __getattr__(self, name: str) -> NDArray[np.float64]:
        if name in _F:
            return self.field(name)
        raise AttributeError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe ``{"n_bins": int, field: [float, ...], ...}``; ``from_dict`` inverts it."""
        out: dict[str, Any] = {"n_bins": self.n_bins}
        for i, name in enumerate(STAT_FIELDS):
            out[name] = [float(v) for v in self._table[i]]
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CalibrationStats):
            return NotImplemented
        return np.array_equal(self._table, other._table)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CalibrationStats(n_bins={self.n_bins}, n={self.n:g})"

    def copy(self) -> CalibrationStats:
        return CalibrationStats(self._table)

    # -- updates ------------------------------------------------------------------------------
    def add(self, p: float, y: float) -> None:
        """Add one outcome in O(1): checked now, summed with the next read (in one batch by
        ``calibration_batch.batch_sums``, as ``add_many``), so a call costs about a microsecond."""
        if type(p) is not float or not 0.0 <= p <= 1.0:  # NaN fails the comparison too
            p = _check_unit_scalar(p, "p")
        if type(y) is not float or not 0.0 <= y <= 1.0:
            y = _check_unit_scalar(y, "y")
        self._pending_p.append(p)
        self._pending_y.append(y)
        if len(self._pending_p) >= _PENDING_LIMIT:
            self._sum_pending()

    def add_many(self, p: ArrayLike, y: ArrayLike) -> None:
        """Add a batch of outcomes in one vectorised pass (``calibration_batch.batch_sums``: the
        compiled kernel where it was built, else numpy).

        Raises ``ValueError`` (and leaves the statistics unchanged) on empty input, different
        lengths, values outside [0, 1] or NaN.
        """
        pa = _as_unit_array(p, "p")
        ya = _as_unit_array(y, "y")
        if pa.shape != ya.shape:
            raise ValueError(f"p and y have different lengths: {pa.size} and {ya.size}")
        if pa.size == 0:
            raise ValueError("empty input: p and y have no values")
        self._sums += batch_sums(pa, ya, n_bins=self.n_bins)

    def merge(self, other: CalibrationStats) -> CalibrationStats:
        """Statistics of the union of both sets of outcomes (a new object)."""
        if not isinstance(other, CalibrationStats):
            raise ValueError("other must be CalibrationStats")
        if other.n_bins != self.n_bins:
            raise ValueError(f"other has {other.n_bins} bins, expected {self.n_bins}")
        return CalibrationStats(self._table + other._table)

    def __add__(self, other: CalibrationStats) -> CalibrationStats:
        return self.merge(other)

    def decayed(self, factor: float) -> CalibrationStats:
        """Every sum multiplied by ``factor`` in [0, 1] (exponential forgetting).

        For statistics ``age`` days old and a half-life ``h`` use ``decay_factor(age,
        half_life=h)`` = ``0.5 ** (age / h)``: an outcome then weighs half as much after ``h``
        days.
        """
        f = float(factor)
        if not 0.0 <= f <= 1.0:
            raise ValueError(f"factor must be in [0, 1], got {factor!r}")
        return CalibrationStats(self._table * f)


def require_outcomes(stats: CalibrationStats) -> float:
    """The total count of ``stats``; ``ValueError`` if it is not statistics or holds nothing."""
    if not isinstance(stats, CalibrationStats):
        raise ValueError(f"stats must be CalibrationStats, got {type(stats).__name__}")
    n = stats.n
    if not n > 0:
        raise ValueError("stats is empty: no outcomes (empty input)")
    return n


def decay_factor(age: float, *, half_life: float) -> float:
    """Weight ``0.5 ** (age / half_life)`` of statistics ``age`` time units old.

    >>> decay_factor(30, half_life=30), decay_factor(0, half_life=30)
    (0.5, 1.0)
    """
    if not half_life > 0 or not math.isfinite(half_life):
        raise ValueError(f"half_life must be positive and finite, got {half_life!r}")
    if not age >= 0 or not math.isfinite(age):
        raise ValueError(f"age must be non-negative and finite, got {age!r}")
    return 0.5 ** (age / half_life)


def combine_with_half_life(
    stats_by_age: Iterable[tuple[float, CalibrationStats]], *, half_life: float
) -> CalibrationStats:
    """Sum of ``stats.decayed(decay_factor(age, half_life=half_life))`` over ``(age, stats)``
    pairs, e.g. per-day statistics keyed by their age in days.

    >>> day = CalibrationStats.from_arrays([0.7], [1.0])
    >>> combine_with_half_life([(0, day), (7, day)], half_life=7).n
    1.5
    """
    total: CalibrationStats | None = None
    for age, stats in stats_by_age:
        part = stats.decayed(decay_factor(age, half_life=half_life))
        total = part if total is None else total.merge(part)
    if total is None:
        raise ValueError("stats_by_age is empty")
    return total
