"""CalibrationStats: exact per-outcome contributions, vectorised batches (with each
implementation of calibration_batch.batch_sums), merge, forgetting, serialisation and input
validation."""

import json
import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_engine.calibration import (
    STAT_FIELDS,
    BinContribution,
    CalibrationStats,
    bin_index,
    combine_with_half_life,
    contribution,
    decay_factor,
)
from analytics_engine.calibration_batch import BLOCK, batch_sums

unit = st.floats(0.0, 1.0, allow_nan=False)
binary = st.sampled_from([0.0, 1.0])
outcome = st.one_of(binary, unit)
pairs = st.lists(st.tuples(unit, outcome), min_size=1, max_size=80)
SETTINGS = settings(max_examples=60, deadline=None)


def reference_table(p: np.ndarray, y: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Each STAT_FIELDS formula summed per bin, written out directly; the bins are scikit-learn's
    (sklearn/calibration.py calibration_curve, strategy="uniform")."""
    k = np.searchsorted(np.linspace(0.0, 1.0, n_bins + 1)[1:-1], p, side="left")
    pc = np.clip(p, 1e-15, 1 - 1e-15)
    per_outcome = [
        np.ones_like(p),
        p,
        p * p,
        y,
        y * y,
        p * y,
        (p - y) ** 2,
        -(y * np.log(pc) + (1 - y) * np.log(1 - pc)),
        (y - p) * (1 - 2 * p),
        (1 - 2 * p) ** 2 * p * (1 - p),
    ]
    return np.stack([np.bincount(k, v, n_bins) for v in per_outcome])


def table(stats: CalibrationStats) -> np.ndarray:
    return np.stack([stats.field(name) for name in STAT_FIELDS])


def batch_stats(p, y, n_bins: int = 20, *, implementation: str) -> CalibrationStats:
    """The statistics ``CalibrationStats.from_arrays(p, y)`` would hold, computed by one
    implementation of ``batch_sums``."""
    sums = batch_sums(np.asarray(p), np.asarray(y), n_bins=n_bins, implementation=implementation)
    return CalibrationStats.from_bin_sums(
        n_bins=n_bins, **dict(zip(STAT_FIELDS, sums, strict=True))
    )


def test_stat_fields_are_the_backend_columns() -> None:
    assert STAT_FIELDS == (
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


def test_contribution_of_one_outcome_by_hand() -> None:
    c = contribution(0.8, 1.0)
    assert isinstance(c, BinContribution)
    assert c.bin == 15  # (0.75, 0.8]: scikit-learn's bins hold their upper edge
    expected = {
        "count": 1.0,
        "sum_p": 0.8,
        "sum_p2": 0.64,
        "sum_y": 1.0,
        "sum_y2": 1.0,
        "sum_py": 0.8,
        "sum_sq_err": 0.04,
        "sum_log_loss": -math.log(0.8),
        "sum_spieg_num": 0.2 * -0.6,
        "sum_spieg_var": 0.36 * 0.16,
    }
    assert list(c.as_dict()) == list(STAT_FIELDS)
    for name, value in expected.items():
        assert c.as_dict()[name] == pytest.approx(value, abs=1e-15), name


def test_contribution_of_a_fractional_outcome_and_clipped_log() -> None:
    c = contribution(0.3, 0.5, n_bins=10)
    assert c.bin == 2  # (0.2, 0.30000000000000004]
    assert c.sum_y2 == 0.25
    assert c.sum_log_loss == pytest.approx(-(0.5 * math.log(0.3) + 0.5 * math.log(0.7)))
    assert contribution(1.0, 0.0).sum_log_loss == pytest.approx(-math.log(1e-15), rel=1e-3)
    assert contribution(0.0, 0.0).sum_log_loss == pytest.approx(1e-15, rel=0.01)


def test_bin_index_edges() -> None:
    # Each bin holds its upper edge (scikit-learn's calibration_curve), the first one 0 too.
    assert bin_index(0.0) == 0
    assert bin_index(0.0499) == 0
    assert bin_index(0.05) == 0
    assert bin_index(math.nextafter(0.05, 1.0)) == 1
    assert bin_index(0.999) == 19
    assert bin_index(1.0) == 19
    assert bin_index(1.0, n_bins=1) == 0
    assert bin_index(np.array([0.0, 0.5, 1.0]), n_bins=4).tolist() == [0, 1, 3]


@pytest.mark.parametrize("bad", [-0.1, 1.1, float("nan"), float("inf"), "x", None])
def test_scalar_inputs_outside_unit_interval_raise(bad) -> None:
    with pytest.raises(ValueError, match="p"):
        bin_index(bad)
    with pytest.raises(ValueError, match=r"^p "):
        contribution(bad, 1.0)
    with pytest.raises(ValueError, match=r"^y "):
        contribution(0.5, bad)
    stats = CalibrationStats.empty()
    with pytest.raises(ValueError, match=r"^p "):
        stats.add(bad, 1.0)
    with pytest.raises(ValueError, match=r"^y "):
        stats.add(0.5, bad)
    assert stats.n == 0


@pytest.mark.parametrize("n_bins", [0, -3, 2.5, True, "20"])
def test_bad_n_bins(n_bins) -> None:
    with pytest.raises(ValueError, match="n_bins"):
        CalibrationStats.empty(n_bins)


@SETTINGS
@given(data=pairs, n_bins=st.sampled_from([1, 7, 20]))
def test_batch_sums_equal_repeated_add_equals_formulas(data, n_bins, batch_implementation) -> None:
    p = np.array([d[0] for d in data])
    y = np.array([d[1] for d in data])
    batch = batch_stats(p, y, n_bins, implementation=batch_implementation)
    one_by_one = CalibrationStats.empty(n_bins)
    for pi, yi in data:
        one_by_one.add(pi, yi)
    np.testing.assert_allclose(table(batch), table(one_by_one), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(table(batch), reference_table(p, y, n_bins), rtol=1e-9, atol=1e-9)
    assert batch.n == len(data)


@SETTINGS
@given(pairs, st.randoms(use_true_random=False))
def test_order_invariance(data, rnd) -> None:
    shuffled = list(data)
    rnd.shuffle(shuffled)
    a = CalibrationStats.from_arrays([d[0] for d in data], [d[1] for d in data])
    b = CalibrationStats.from_arrays([d[0] for d in shuffled], [d[1] for d in shuffled])
    np.testing.assert_allclose(table(a), table(b), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(pairs, pairs)
def test_merge_equals_stats_of_the_union(first, second) -> None:
    def of(d):
        return CalibrationStats.from_arrays([x[0] for x in d], [x[1] for x in d])

    merged = of(first).merge(of(second))
    np.testing.assert_allclose(table(merged), table(of(first + second)), rtol=1e-12, atol=1e-12)
    assert (of(first) + of(second)) == merged


def test_large_batches_cross_blocks_and_mix_binary_and_fractional_blocks(
    batch_implementation: str,
) -> None:
    rng = np.random.default_rng(3)
    n = 3 * BLOCK + 123
    p = rng.random(n)
    p[:4] = [0.0, 1.0, 0.05, 0.95]
    y = (rng.random(n) < p).astype(float)
    y[BLOCK : BLOCK + 50] = 0.25  # one fractional block
    stats = batch_stats(p, y, implementation=batch_implementation)
    np.testing.assert_allclose(table(stats), reference_table(p, y), rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize(
    ("p", "y", "message"),
    [
        ([0.5, 1.2], [1.0, 0.0], "^p has values outside"),
        ([0.5, -0.2], [1.0, 0.0], "^p has values outside"),
        ([0.5, np.nan], [1.0, 0.0], "^p has values outside .* NaN"),
        ([0.5, 0.5], [1.0, np.inf], "^y has values outside"),
        ([0.5, 0.5], [1.0, 2.0], "^y has values outside"),
        ([0.5, 0.5], [1.0], "p and y have different lengths"),
        ([], [], "empty input"),
        ([[0.5]], [[1.0]], "^p must be one-dimensional"),
        (["a"], [1.0], "^p must be numbers"),
    ],
)
def test_bad_batches_raise_and_leave_stats_unchanged(p, y, message) -> None:
    stats = CalibrationStats.from_arrays([0.3], [1.0])
    before = stats.to_dict()
    with pytest.raises(ValueError, match=message):
        stats.add_many(p, y)
    assert stats.to_dict() == before


@SETTINGS
@given(
    p=st.lists(unit, min_size=1, max_size=30),
    bad=st.sampled_from([np.nan, np.inf, -np.inf, -1e-9, 1.0 + 1e-9, 5.0]),
    data=st.data(),
)
def test_any_bad_value_anywhere_raises(p, bad, data, batch_implementation) -> None:
    i = data.draw(st.integers(0, len(p) - 1))
    y = [1.0] * len(p)
    bad_p = list(p)
    bad_p[i] = bad
    with pytest.raises(ValueError, match=r"^p "):
        batch_stats(bad_p, y, implementation=batch_implementation)
    with pytest.raises(ValueError, match=r"^y "):
        batch_stats(p, bad_p, implementation=batch_implementation)
    with pytest.raises(ValueError, match=r"^p "):
        CalibrationStats.from_arrays(bad_p, y)


@SETTINGS
@given(pairs)
def test_to_dict_from_dict_round_trips_exactly_through_json(data) -> None:
    stats = CalibrationStats.from_arrays([d[0] for d in data], [d[1] for d in data])
    stats = stats.decayed(0.37)
    restored = CalibrationStats.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert restored == stats
    assert restored.n_bins == stats.n_bins


def test_from_rows_sums_sql_group_by_rows() -> None:
    a, b, c = contribution(0.81, 1.0), contribution(0.83, 0.0), contribution(0.1, 0.0)
    rows = [
        {"bin": a.bin, **{k: Decimal(str(v)) for k, v in a.as_dict().items()}},
        {"bin": b.bin, **b.as_dict()},  # the same bin again: added up
        {"bin": c.bin, **c.as_dict()},
    ]
    stats = CalibrationStats.from_rows(rows)
    direct = CalibrationStats.from_arrays([0.81, 0.83, 0.1], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(table(stats), table(direct), rtol=1e-12)
    assert stats.count.tolist()[16] == 2.0


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"bin": 20}, "bin must be an integer"),
        ({"bin": -1}, "bin must be an integer"),
        ({"bin": "3"}, "bin must be an integer"),
        ({"bin": 3}, "count is missing"),
    ],
)
def test_from_rows_rejects_bad_rows(row, message) -> None:
    with pytest.raises(ValueError, match=message):
        CalibrationStats.from_rows([row])


def test_from_bin_sums_and_from_dict_validation() -> None:
    zeros = {name: np.zeros(4) for name in STAT_FIELDS}
    assert CalibrationStats.from_bin_sums(n_bins=4, **zeros).n == 0
    with pytest.raises(ValueError, match="sum_py is missing"):
        CalibrationStats.from_bin_sums(
            n_bins=4, **{k: v for k, v in zeros.items() if k != "sum_py"}
        )
    with pytest.raises(ValueError, match="unknown statistics: bogus"):
        CalibrationStats.from_bin_sums(n_bins=4, bogus=np.zeros(4), **zeros)
    with pytest.raises(ValueError, match=r"count must have shape \(4,\)"):
        CalibrationStats.from_bin_sums(n_bins=4, **(zeros | {"count": np.zeros(3)}))
    with pytest.raises(ValueError, match="count has negative values"):
        CalibrationStats.from_bin_sums(n_bins=4, **(zeros | {"count": -np.ones(4)}))
    with pytest.raises(ValueError, match="NaN"):
        CalibrationStats.from_bin_sums(n_bins=4, **(zeros | {"sum_p": np.full(4, np.nan)}))
    with pytest.raises(ValueError, match="n_bins is missing"):
        CalibrationStats.from_dict({})


def test_arrays_are_read_only_views() -> None:
    stats = CalibrationStats.from_arrays([0.5], [1.0])
    with pytest.raises(ValueError):
        stats.count[10] = 5.0
    with pytest.raises(AttributeError):
        _ = stats.not_a_field


def test_merge_rejects_other_binnings() -> None:
    with pytest.raises(ValueError, match="other has 10 bins, expected 20"):
        CalibrationStats.empty(20).merge(CalibrationStats.empty(10))


def test_exponential_forgetting() -> None:
    day = CalibrationStats.from_arrays([0.9, 0.2], [1.0, 0.0])
    assert decay_factor(14, half_life=7) == 0.25
    halved = day.decayed(0.5)
    np.testing.assert_allclose(table(halved), table(day) / 2)
    combined = combine_with_half_life([(0, day), (7, day), (14, day)], half_life=7)
    np.testing.assert_allclose(table(combined), table(day) * 1.75)
    with pytest.raises(ValueError, match="factor"):
        day.decayed(1.5)
    with pytest.raises(ValueError, match="half_life"):
        decay_factor(1, half_life=0)
    with pytest.raises(ValueError, match="age"):
        decay_factor(-1, half_life=3)
    with pytest.raises(ValueError, match="stats_by_age is empty"):
        combine_with_half_life([], half_life=3)
