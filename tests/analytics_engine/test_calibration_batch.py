"""The batch path behind CalibrationStats.add_many (analytics_engine/calibration_batch.py), once
per implementation (the compiled kernel _batch_kernel.c and numpy): the edges of its bins,
blocks and inputs, against the per-outcome formulas summed directly (reference_table) and
against exact sums (math.fsum); sums of squares are never negative."""

import itertools
import math
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_engine.calibration import STAT_FIELDS, CalibrationStats, brier_decomposition
from analytics_engine.calibration_batch import (
    BLOCK,
    DEFAULT_IMPLEMENTATION,
    IMPLEMENTATIONS,
    batch_sums,
)
from tests.analytics_engine.test_calibration_stats import batch_stats, reference_table, table

N_PARTIAL = 2 * BLOCK + 37  # two full blocks of the kernel and a partial last one


def outcomes(n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return p, (rng.random(n) < p).astype(float)


def repeated_add(p: np.ndarray, y: np.ndarray, n_bins: int) -> CalibrationStats:
    stats = CalibrationStats.empty(n_bins)
    for pi, yi in zip(p.tolist(), y.tolist(), strict=True):
        stats.add(pi, yi)
    return stats


def test_the_compiled_kernel_is_the_default_where_it_is_built() -> None:
    assert "numpy" in IMPLEMENTATIONS
    default_name = "compiled" if "compiled" in IMPLEMENTATIONS else "numpy"
    assert default_name == DEFAULT_IMPLEMENTATION
    p, y = outcomes(3 * BLOCK, seed=9)
    default = batch_stats(p, y, implementation=DEFAULT_IMPLEMENTATION)
    assert CalibrationStats.from_arrays(p, y) == default  # add_many takes the default


def test_the_kernel_blocks_as_calibration_batch_says(kernel) -> None:
    assert kernel.BLOCK == BLOCK


def test_an_unknown_implementation_is_named() -> None:
    with pytest.raises(ValueError, match=r"^implementation must be one of .*'numpy'.*got 'c'"):
        batch_sums(np.array([0.5]), np.array([1.0]), n_bins=2, implementation="c")


@pytest.mark.parametrize("n_bins", [1, 3, 7, 20, 1000])
@pytest.mark.parametrize("fractional", [False, True])
def test_bin_edges_and_the_ends_of_the_unit_interval(
    n_bins: int, fractional: bool, batch_implementation: str
) -> None:
    tiny = math.nextafter(0.0, 1.0)  # the smallest subnormal
    p = np.array(
        [k / n_bins for k in range(n_bins + 1)]  # every bin edge, 0 and 1 included
        + [math.nextafter(k / n_bins, 0.0) for k in range(1, n_bins + 1)]  # just below each
        + [0.0, -0.0, 1.0, tiny, 1e-16, 1e-15, 1.0 - 1e-15, 1.0 - 1e-16, math.nextafter(1, 0)]
    )
    y = np.resize([0.0, 1.0, 1.0], p.size)
    if fractional:
        y[::4] = 0.25
    stats = batch_stats(p, y, n_bins, implementation=batch_implementation)
    one_by_one = repeated_add(p, y, n_bins)
    assert stats.count.tolist() == one_by_one.count.tolist()  # same bin for every outcome
    np.testing.assert_allclose(table(stats), table(one_by_one), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(table(stats), reference_table(p, y, n_bins), rtol=1e-12, atol=1e-12)
    assert stats.count[-1] >= 1  # p = 1 lands in the last bin


@pytest.mark.parametrize("position", [0, 1, BLOCK - 1, BLOCK, 2 * BLOCK, N_PARTIAL - 1])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -1e-300, math.nextafter(1.0, 2.0)])
def test_a_bad_value_at_any_position_of_any_block_raises(
    position: int, bad: float, batch_implementation: str
) -> None:
    p, y = outcomes(N_PARTIAL, seed=1)
    bad_p = p.copy()
    bad_p[position] = bad
    bad_y = y.copy()
    bad_y[position] = bad
    for args, message in [
        ((bad_p, y), r"^p has values outside \[0, 1\] or NaN$"),
        ((p, bad_y), r"^y has values outside \[0, 1\] or NaN$"),
        ((bad_p, bad_y), r"^p "),  # both at fault: p is named
    ]:
        with pytest.raises(ValueError, match=message):
            batch_sums(*args, n_bins=20, implementation=batch_implementation)
    stats = CalibrationStats.from_arrays([0.3], [1.0])
    before = stats.to_dict()
    with pytest.raises(ValueError, match=r"^p "):
        stats.add_many(bad_p, y)
    assert stats.to_dict() == before


@pytest.mark.parametrize(("p_at", "y_at", "named"), [(BLOCK, BLOCK - 1, "y"), (5, BLOCK, "p")])
def test_the_first_block_holding_a_bad_value_names_its_array(
    p_at: int, y_at: int, named: str, batch_implementation: str
) -> None:
    p, y = outcomes(N_PARTIAL, seed=8)
    p[p_at] = -1.0
    y[y_at] = np.nan
    with pytest.raises(ValueError, match=f"^{named} has values outside"):
        batch_sums(p, y, n_bins=20, implementation=batch_implementation)


def test_the_kernel_leaves_out_untouched_when_it_reports_a_bad_value(kernel) -> None:
    p, y = outcomes(N_PARTIAL, seed=2)
    y[-1] = np.nan
    out = np.full((len(STAT_FIELDS), 20), 7.0)
    assert kernel.batch_sums(p, y, out) == kernel.STATUS_BAD_Y
    assert (out == 7.0).all()


@pytest.mark.parametrize("block", [0, 1, 2])
def test_fractional_outcomes_in_any_block(block: int, batch_implementation: str) -> None:
    p, y = outcomes(N_PARTIAL, seed=3)
    start = block * BLOCK
    y[start : start + 5] = [0.25, 0.5, 1e-300, 1.0 - 1e-16, 0.75]
    stats = batch_stats(p, y, implementation=batch_implementation)
    np.testing.assert_allclose(table(stats), reference_table(p, y), rtol=1e-11, atol=1e-9)
    assert stats.sum_y2.sum() == pytest.approx(np.sum(y * y), rel=1e-13)


def test_binary_values_in_a_fractional_block_add_up_exactly_as_in_a_binary_block(
    batch_implementation: str,
) -> None:
    def of(p, y):
        return table(batch_stats(p, y, implementation=batch_implementation))

    p, y = outcomes(BLOCK, seed=4)
    mixed_without_last = of(np.append(p, 0.5), np.append(y, 0.5)) - of([0.5], [0.5])
    np.testing.assert_allclose(mixed_without_last, of(p, y), rtol=1e-12, atol=1e-12)


def test_non_contiguous_and_non_float64_inputs_are_converted(batch_implementation: str) -> None:
    def of(p, y):
        return batch_stats(p, y, implementation=batch_implementation)

    p, y = outcomes(3 * BLOCK, seed=5)
    p = np.round(p * 256) / 256  # exact in float32 too
    expected = of(p, y)
    wide_p, wide_y = np.repeat(p, 2), np.repeat(y, 2)
    assert not wide_p[::2].flags.c_contiguous
    assert of(wide_p[::2], wide_y[::2]) == expected
    assert of(p.astype(np.float32), y.astype(np.int8)) == expected
    assert of(p.astype(">f8"), y.astype(bool)) == expected
    assert of(p.tolist(), y.astype(int).tolist()) == expected
    assert of(p[::-1], y[::-1]).count.tolist() == expected.count.tolist()
    assert CalibrationStats.from_arrays(p.tolist(), y.astype(bool)).count.tolist() == (
        expected.count.tolist()
    )


def test_the_kernel_itself_takes_only_contiguous_float64_buffers(kernel) -> None:
    out = np.empty((len(STAT_FIELDS), 4))
    half = np.full(2, 0.5)
    with pytest.raises(TypeError, match="p must be a C-contiguous float64 buffer"):
        kernel.batch_sums(half.astype(np.float32), half, out)
    with pytest.raises(ValueError, match="not C-contiguous"):
        kernel.batch_sums(np.full(4, 0.5)[::2], half, out)
    with pytest.raises(ValueError, match="same length"):
        kernel.batch_sums(half, np.full(3, 0.5), out)
    with pytest.raises(ValueError, match=r"out must have shape \(10, n_bins\)"):
        kernel.batch_sums(half, half, np.empty((9, 4)))
    read_only = np.empty((len(STAT_FIELDS), 4))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        kernel.batch_sums(half, half, read_only)


@pytest.mark.parametrize("bad", [-0.25, -1e300])
def test_p_changed_by_another_thread_during_the_pass_stays_inside_the_bins(
    kernel, bad: float
) -> None:
    """The kernel releases the GIL and reads p twice (validation, then bins): a value made
    negative in between must land in bin 0, not before the accumulators (every outcome is
    counted once). Bounded: 300 passes or 2 s; a race is likely but not certain in that time."""
    n = 1 << 16
    p = np.linspace(0.5, 1.0, n)  # bins 9-19 of 20 while nobody writes (0.5 is in bin 9)
    y = np.ones(n)
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            p[5000] = bad
            p[5000] = 0.75

    writer = threading.Thread(target=flip)
    writer.start()
    try:
        deadline = time.monotonic() + 2.0
        for _ in range(300):
            out = np.zeros((len(STAT_FIELDS), 20))
            if kernel.batch_sums(p, y, out) == 0:
                assert out[0].sum() == n
                assert out[0, 1:9].sum() == 0  # the changed outcome is in bin 0 or its own
            if time.monotonic() > deadline:
                break
    finally:
        stop.set()
        writer.join()


@pytest.mark.parametrize("n_bins", [100_000, 2**18 + 1])
def test_huge_n_bins(n_bins: int, batch_implementation: str) -> None:
    p, y = outcomes(3 * BLOCK, seed=6)
    p[:3] = [0.0, 1.0, math.nextafter(1.0, 0.0)]
    stats = batch_stats(p, y, n_bins, implementation=batch_implementation)
    np.testing.assert_allclose(table(stats), reference_table(p, y, n_bins), rtol=1e-12, atol=1e-12)
    assert stats.count[-1] == 2  # p = 1 and the double just below it


@pytest.fixture(scope="session")
def exact_sums() -> tuple[np.ndarray, np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """2e6 outcomes in 20 bins, and per field the exact sum per bin of its per-outcome terms
    (math.fsum) and of their absolute values."""
    n, n_bins = 2_000_000, 20
    p, y = outcomes(n, seed=7)
    k = np.minimum((p * n_bins).astype(int), n_bins - 1)
    order = np.argsort(k, kind="stable")
    edges = np.searchsorted(k[order], np.arange(n_bins + 1))
    pc = np.clip(p, 1e-15, 1 - 1e-15)
    terms = {
        "sum_p": p,
        "sum_p2": p * p,
        "sum_py": p * y,
        "sum_log_loss": -(y * np.log(pc) + (1 - y) * np.log(1 - pc)),
        "sum_sq_err": (p - y) ** 2,
        "sum_spieg_num": (y - p) * (1 - 2 * p),
        "sum_spieg_var": (1 - 2 * p) ** 2 * p * (1 - p),
    }
    exact = {}
    for name, per_outcome in terms.items():
        values = per_outcome[order]
        exact[name] = tuple(
            np.array([math.fsum(v[a:b]) for a, b in itertools.pairwise(edges)])
            for v in (values, np.abs(values))
        )
    return p, y, exact


def test_sums_are_compensated_as_exact_as_float64_allows(
    exact_sums, batch_implementation: str
) -> None:
    """Against per-bin math.fsum of the per-outcome formulas: every field within about one
    rounding of the size of its terms at 2e6 outcomes (plain summation of the partial sums is
    off by 4-6 roundings there, and more as n grows)."""
    p, y, exact = exact_sums
    n_bins = 20
    got = table(batch_stats(p, y, n_bins, implementation=batch_implementation))
    eps = np.finfo(float).eps
    for name, (exact_sum, abs_sum) in exact.items():
        # 3 for log loss: the kernel's log and numpy's differ by up to an ulp per outcome
        allowed = (3 if name == "sum_log_loss" else 2) * eps * abs_sum
        assert (np.abs(got[STAT_FIELDS.index(name)] - exact_sum) <= allowed).all(), name
    k = np.minimum((p * n_bins).astype(int), n_bins - 1)
    assert got[0].tolist() == np.bincount(k, minlength=n_bins).tolist()


@pytest.mark.parametrize("y", [0.0, 1.0])
def test_brier_of_a_forecast_a_hair_from_its_outcome_is_exact(
    y: float, batch_implementation: str
) -> None:
    """1e5 outcomes at p = 1e-9 from y: Σp² − 2Σpy + Σy² came out as −5.8e-16 here."""
    p = abs(y - 1e-9)
    stats = batch_stats(
        np.full(100_000, p), np.full(100_000, y), implementation=batch_implementation
    )
    brier = brier_decomposition(stats).brier
    assert brier == pytest.approx((p - y) ** 2, rel=1e-9)
    assert stats.sum_spieg_var.sum() == pytest.approx(1e5 * (1 - 2 * p) ** 2 * p * (1 - p))


def near(value: float) -> st.SearchStrategy[float]:
    """``value`` itself or up to 1e-6 from it (often a few ulps), inside [0, 1]."""
    offsets = st.sampled_from([0.0, 5e-324, 1e-300, 1e-17, 1e-16, 2.2e-16, 1e-15, 1e-12, 1e-9])
    sign = 1.0 if value < 0.5 else -1.0
    return (offsets | st.floats(0.0, 1e-6)).map(lambda offset: value + sign * offset)


near_outcome = st.one_of(
    st.sampled_from([0.0, 1.0]).flatmap(lambda y: st.tuples(near(y), st.just(y))),
    st.tuples(near(0.5), st.just(0.5)),  # (1 − 2p)² p(1 − p) near 0 too
    st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
)


@settings(max_examples=60, deadline=None)
@given(groups=st.lists(st.tuples(near_outcome, st.integers(1, 100_000)), min_size=1, max_size=4))
def test_sums_of_squares_and_the_brier_score_are_never_negative(
    groups, batch_implementation: str
) -> None:
    """Each group is one (p, y) repeated up to 1e5 times, p often within ulps of y."""
    p = np.repeat([pair[0] for pair, _ in groups], [count for _, count in groups])
    y = np.repeat([pair[1] for pair, _ in groups], [count for _, count in groups])
    stats = batch_stats(p, y, implementation=batch_implementation)
    for name in ("sum_p2", "sum_y2", "sum_sq_err", "sum_log_loss", "sum_spieg_var"):
        assert (stats.field(name) >= 0.0).all(), name
    assert brier_decomposition(stats).brier >= 0.0
