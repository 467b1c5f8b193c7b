"""The compiled kernel behind CalibrationStats.add_many (analytics_engine/_batch_kernel.c): the
edges of its bins, blocks and inputs, against the per-outcome formulas summed directly
(reference_table) and against exact sums (math.fsum)."""

import itertools
import math

import numpy as np
import pytest

from analytics_engine import _batch_kernel
from analytics_engine.calibration import STAT_FIELDS, CalibrationStats
from tests.analytics_engine.test_calibration_stats import reference_table, table

BLOCK = _batch_kernel.BLOCK  # outcomes per block of the kernel
N_PARTIAL = 2 * BLOCK + 37  # two full blocks and a partial last one


def outcomes(n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return p, (rng.random(n) < p).astype(float)


def repeated_add(p: np.ndarray, y: np.ndarray, n_bins: int) -> CalibrationStats:
    stats = CalibrationStats.empty(n_bins)
    for pi, yi in zip(p.tolist(), y.tolist(), strict=True):
        stats.add(pi, yi)
    return stats


@pytest.mark.parametrize("n_bins", [1, 3, 7, 20, 1000])
@pytest.mark.parametrize("fractional", [False, True])
def test_bin_edges_and_the_ends_of_the_unit_interval(n_bins: int, fractional: bool) -> None:
    tiny = math.nextafter(0.0, 1.0)  # the smallest subnormal
    p = np.array(
        [k / n_bins for k in range(n_bins + 1)]  # every bin edge, 0 and 1 included
        + [math.nextafter(k / n_bins, 0.0) for k in range(1, n_bins + 1)]  # just below each
        + [0.0, -0.0, 1.0, tiny, 1e-16, 1e-15, 1.0 - 1e-15, 1.0 - 1e-16, math.nextafter(1, 0)]
    )
    y = np.resize([0.0, 1.0, 1.0], p.size)
    if fractional:
        y[::4] = 0.25
    stats = CalibrationStats.from_arrays(p, y, n_bins=n_bins)
    one_by_one = repeated_add(p, y, n_bins)
    assert stats.count.tolist() == one_by_one.count.tolist()  # same bin for every outcome
    np.testing.assert_allclose(table(stats), table(one_by_one), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(table(stats), reference_table(p, y, n_bins), rtol=1e-12, atol=1e-12)
    assert stats.count[-1] >= 1  # p = 1 lands in the last bin


@pytest.mark.parametrize("position", [0, 1, BLOCK - 1, BLOCK, 2 * BLOCK, N_PARTIAL - 1])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -1e-300, math.nextafter(1.0, 2.0)])
def test_a_bad_value_at_any_position_of_any_block_raises(position: int, bad: float) -> None:
    p, y = outcomes(N_PARTIAL, seed=1)
    stats = CalibrationStats.from_arrays([0.3], [1.0])
    before = stats.to_dict()
    bad_p = p.copy()
    bad_p[position] = bad
    with pytest.raises(ValueError, match=r"^p has values outside \[0, 1\] or NaN$"):
        stats.add_many(bad_p, y)
    bad_y = y.copy()
    bad_y[position] = bad
    with pytest.raises(ValueError, match=r"^y has values outside \[0, 1\] or NaN$"):
        stats.add_many(p, bad_y)
    with pytest.raises(ValueError, match=r"^p "):  # both at fault: p is named
        stats.add_many(bad_p, bad_y)
    assert stats.to_dict() == before


def test_the_kernel_leaves_out_untouched_when_it_reports_a_bad_value() -> None:
    p, y = outcomes(N_PARTIAL, seed=2)
    y[-1] = np.nan
    out = np.full((len(STAT_FIELDS), 20), 7.0)
    assert _batch_kernel.batch_sums(p, y, out) == _batch_kernel.STATUS_BAD_Y
    assert (out == 7.0).all()


@pytest.mark.parametrize("block", [0, 1, 2])
def test_fractional_outcomes_in_any_block(block: int) -> None:
    p, y = outcomes(N_PARTIAL, seed=3)
    start = block * BLOCK
    y[start : start + 5] = [0.25, 0.5, 1e-300, 1.0 - 1e-16, 0.75]
    stats = CalibrationStats.from_arrays(p, y)
    np.testing.assert_allclose(table(stats), reference_table(p, y), rtol=1e-11, atol=1e-9)
    assert stats.sum_y2.sum() == pytest.approx(np.sum(y * y), rel=1e-13)


def test_binary_values_in_a_fractional_block_add_up_exactly_as_in_a_binary_block() -> None:
    p, y = outcomes(BLOCK, seed=4)
    binary = CalibrationStats.from_arrays(p, y)
    mixed = CalibrationStats.from_arrays(np.append(p, 0.5), np.append(y, 0.5))
    mixed_without_last = table(mixed) - table(CalibrationStats.from_arrays([0.5], [0.5]))
    np.testing.assert_allclose(mixed_without_last, table(binary), rtol=1e-12, atol=1e-12)


def test_non_contiguous_and_non_float64_inputs_are_converted() -> None:
    p, y = outcomes(3 * BLOCK, seed=5)
    p = np.round(p * 256) / 256  # exact in float32 too
    expected = CalibrationStats.from_arrays(p, y)
    wide_p, wide_y = np.repeat(p, 2), np.repeat(y, 2)
    assert not wide_p[::2].flags.c_contiguous
    assert CalibrationStats.from_arrays(wide_p[::2], wide_y[::2]) == expected
    assert CalibrationStats.from_arrays(p.astype(np.float32), y.astype(np.int8)) == expected
    assert CalibrationStats.from_arrays(p.astype(">f8"), y.astype(bool)) == expected
    assert CalibrationStats.from_arrays(p.tolist(), y.astype(int).tolist()) == expected
    assert CalibrationStats.from_arrays(p[::-1], y[::-1]).count.tolist() == expected.count.tolist()


def test_the_kernel_itself_takes_only_contiguous_float64_buffers() -> None:
    out = np.empty((len(STAT_FIELDS), 4))
    half = np.full(2, 0.5)
    with pytest.raises(TypeError, match="p must be a C-contiguous float64 buffer"):
        _batch_kernel.batch_sums(half.astype(np.float32), half, out)
    with pytest.raises(ValueError, match="not C-contiguous"):
        _batch_kernel.batch_sums(np.full(4, 0.5)[::2], half, out)
    with pytest.raises(ValueError, match="same length"):
        _batch_kernel.batch_sums(half, np.full(3, 0.5), out)
    with pytest.raises(ValueError, match=r"out must have shape \(10, n_bins\)"):
        _batch_kernel.batch_sums(half, half, np.empty((9, 4)))
    read_only = np.empty((len(STAT_FIELDS), 4))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _batch_kernel.batch_sums(half, half, read_only)


@pytest.mark.parametrize("n_bins", [100_000, 2**18 + 1])
def test_huge_n_bins(n_bins: int) -> None:
    p, y = outcomes(3 * BLOCK, seed=6)
    p[:3] = [0.0, 1.0, math.nextafter(1.0, 0.0)]
    stats = CalibrationStats.from_arrays(p, y, n_bins=n_bins)
    np.testing.assert_allclose(table(stats), reference_table(p, y, n_bins), rtol=1e-12, atol=1e-12)
    assert stats.count[-1] == 2  # p = 1 and the double just below it


def test_sums_are_compensated_as_exact_as_float64_allows() -> None:
    """Against per-bin math.fsum of the per-outcome formulas: the moments within about one
    rounding of the exact sum at 2e6 outcomes (plain summation of the partial sums is off by
    4-6 roundings there, and more as n grows); the fields derived from the moments within a
    few roundings of the size of their terms."""
    n, n_bins = 2_000_000, 20
    p, y = outcomes(n, seed=7)
    got = table(CalibrationStats.from_arrays(p, y, n_bins=n_bins))
    k = np.minimum((p * n_bins).astype(int), n_bins - 1)
    order = np.argsort(k, kind="stable")
    edges = np.searchsorted(k[order], np.arange(n_bins + 1))
    pc = np.clip(p, 1e-15, 1 - 1e-15)
    eps = np.finfo(float).eps
    bound = {  # name: (per-outcome formula, allowed error)
        "sum_p": (p, 2 * eps * got[1]),
        "sum_p2": (p * p, 2 * eps * got[2]),
        "sum_py": (p * y, 2 * eps * got[5]),
        # 3: the kernel's log and numpy's differ by up to an ulp per outcome
        "sum_log_loss": (-(y * np.log(pc) + (1 - y) * np.log(1 - pc)), 3 * eps * got[7]),
        "sum_sq_err": ((p - y) ** 2, 4 * eps * (got[2] + 2 * got[5] + got[4])),
        "sum_spieg_num": (
            (y - p) * (1 - 2 * p),
            4 * eps * (got[3] + got[1] + 2 * (got[5] + got[2])),
        ),
        "sum_spieg_var": ((1 - 2 * p) ** 2 * p * (1 - p), 4 * eps * (got[1] + got[2])),
    }
    for name, (per_outcome, allowed) in bound.items():
        values = per_outcome[order]
        exact = np.array([math.fsum(values[a:b]) for a, b in itertools.pairwise(edges)])
        assert (np.abs(got[STAT_FIELDS.index(name)] - exact) <= allowed).all(), name
    assert got[0].tolist() == np.bincount(k, minlength=n_bins).tolist()
