"""Scores and tests from the statistics, against scikit-learn, scipy and hand-worked values."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sklearn_log_loss

from analytics_engine.calibration import (
    STAT_FIELDS,
    CalibrationStats,
    brier_decomposition,
    calibration_errors,
    debiased_calibration_error,
    equal_mass_bins,
    hosmer_lemeshow,
    log_loss,
    observed_expected,
    spiegelhalter_test,
)

unit = st.floats(0.0, 1.0, allow_nan=False)
outcome = st.one_of(st.sampled_from([0.0, 1.0]), unit)
pairs = st.lists(st.tuples(unit, outcome), min_size=1, max_size=120)
SETTINGS = settings(max_examples=80, deadline=None)


def sample(n: int, seed: int, *, rate=lambda p: p) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.99, n)
    return p, (rng.random(n) < rate(p)).astype(float)


def test_brier_and_log_loss_match_scikit_learn() -> None:
    p, y = sample(5000, 1, rate=lambda p: 0.8 * p)
    stats = CalibrationStats.from_arrays(p, y)
    assert brier_decomposition(stats).brier == pytest.approx(brier_score_loss(y, p), abs=1e-14)
    assert log_loss(stats) == pytest.approx(sklearn_log_loss(y, p), abs=1e-13)


def test_log_loss_of_fractional_outcomes() -> None:
    p = np.array([0.2, 0.7, 0.9])
    y = np.array([0.5, 0.25, 1.0])
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert log_loss(CalibrationStats.from_arrays(p, y)) == pytest.approx(expected, abs=1e-15)


def test_murphy_decomposition_hand_worked() -> None:
    # Murphy (1973) with one forecast value per bin (WBV = WBC = 0): 10 forecasts of 0.9 with
    # 7 successes, 10 of 0.2 with 3. ȳ = 0.5; REL = (10·0.2² + 10·0.1²)/20 = 0.025,
    # RES = (10·0.2² + 10·0.2²)/20 = 0.04, UNC = 0.25, BS = 0.235.
    p = [0.9] * 10 + [0.2] * 10
    y = [1.0] * 7 + [0.0] * 3 + [1.0] * 3 + [0.0] * 7
    d = brier_decomposition(CalibrationStats.from_arrays(p, y))
    assert d.reliability == pytest.approx(0.025, abs=1e-15)
    assert d.resolution == pytest.approx(0.04, abs=1e-15)
    assert d.uncertainty == pytest.approx(0.25, abs=1e-15)
    assert d.within_bin_variance == pytest.approx(0.0, abs=1e-15)
    assert d.within_bin_covariance == pytest.approx(0.0, abs=1e-15)
    assert d.brier == pytest.approx(0.235, abs=1e-15)


def test_stephenson_within_bin_terms_against_their_definitions() -> None:
    # Stephenson, Coelho & Jolliffe (2008), eq. 9: WBV = Σ(p − p̄_k)²/n,
    # WBC = 2 Σ (p − p̄_k)(y − ȳ_k)/n, computed here from the outcomes themselves.
    p, y = sample(2000, 2, rate=lambda p: p**1.5)
    k = np.minimum((p * 20).astype(int), 19)
    pbar = np.bincount(k, p, 20) / np.maximum(np.bincount(k, minlength=20), 1)
    ybar = np.bincount(k, y, 20) / np.maximum(np.bincount(k, minlength=20), 1)
    d = brier_decomposition(CalibrationStats.from_arrays(p, y))
    assert d.within_bin_variance == pytest.approx(np.mean((p - pbar[k]) ** 2), abs=1e-13)
    wbc = 2 * np.mean((p - pbar[k]) * (y - ybar[k]))
    assert d.within_bin_covariance == pytest.approx(wbc, abs=1e-13)
    assert d.reliability == pytest.approx(np.mean((pbar[k] - ybar[k]) ** 2), abs=1e-13)
    assert d.binned_brier == pytest.approx(np.mean((pbar[k] - y) ** 2), abs=1e-13)


@SETTINGS
@given(pairs, st.sampled_from([1, 5, 20]))
def test_decomposition_sums_to_the_brier_score(data, n_bins) -> None:
    p = [d[0] for d in data]
    y = [d[1] for d in data]
    d = brier_decomposition(CalibrationStats.from_arrays(p, y, n_bins=n_bins))
    parts = (
        d.reliability
        - d.resolution
        + d.uncertainty
        + d.within_bin_variance
        - d.within_bin_covariance
    )
    assert abs(parts - d.brier) <= 1e-12
    assert d.brier == pytest.approx(np.mean((np.array(p) - np.array(y)) ** 2), abs=1e-12)
    assert d.uncertainty == pytest.approx(np.var(y), abs=1e-12)


def test_calibration_errors_plug_in() -> None:
    p, y = sample(3000, 3, rate=lambda p: 0.7 * p)
    k = np.minimum((p * 20).astype(int), 19)
    cnt = np.bincount(k, minlength=20)
    nz = cnt > 0
    gap = np.abs(np.bincount(k, p, 20)[nz] - np.bincount(k, y, 20)[nz]) / cnt[nz]
    e = calibration_errors(CalibrationStats.from_arrays(p, y))
    assert e.ece == pytest.approx(np.sum(cnt[nz] * gap) / 3000, abs=1e-14)
    assert e.mce == pytest.approx(gap.max(), abs=1e-14)
    assert e.rmsce == pytest.approx(math.sqrt(np.sum(cnt[nz] * gap**2) / 3000), abs=1e-14)
    assert e.n_nonempty_bins == int(nz.sum())


def kumar_unbiased_l2_ce(p: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """Kumar, Liang & Ma (2019), ``calibration`` package ``unbiased_l2_ce``, per outcome."""
    total = 0.0
    for g in np.unique(groups):
        yg, pg = y[groups == g], p[groups == g]
        if len(yg) < 2:
            continue
        variance = yg.mean() * (1 - yg.mean()) / (len(yg) - 1)
        total += len(yg) / len(y) * ((pg.mean() - yg.mean()) ** 2 - variance)
    return total


def test_debiased_error_matches_kumar_on_the_same_groups() -> None:
    p, y = sample(1500, 4, rate=lambda p: 0.85 * p)
    stats = CalibrationStats.from_arrays(p, y)
    grouped = equal_mass_bins(stats)
    assert grouped.n_bins == 10
    assert grouped.n == 1500
    # reconstruct each outcome's group from the merged bins' edges
    k = np.minimum((p * 20).astype(int), 19)
    cum = np.cumsum(stats.count)
    mid = cum - stats.count / 2
    bin_group = np.minimum((mid * 10 / 1500).astype(int), 9)
    d = debiased_calibration_error(stats)
    assert d.n_groups == 10
    assert d.squared == pytest.approx(kumar_unbiased_l2_ce(p, y, bin_group[k]), abs=1e-14)
    assert d.error == pytest.approx(math.sqrt(d.squared))
    assert d.plugin_squared > d.squared


def test_debiased_error_is_about_zero_for_calibrated_forecasts_where_plugin_is_not() -> None:
    debiased, plugin = [], []
    for seed in range(150):
        d = debiased_calibration_error(CalibrationStats.from_arrays(*sample(400, seed)))
        debiased.append(d.squared)
        plugin.append(d.plugin_squared)
    sem = np.std(debiased) / math.sqrt(len(debiased))
    assert abs(np.mean(debiased)) < 3 * sem
    assert np.mean(plugin) > 10 * abs(np.mean(debiased))


def test_equal_mass_groups_respect_small_samples() -> None:
    stats = CalibrationStats.from_arrays(*sample(35, 5))
    assert equal_mass_bins(stats).n_bins == 3  # floor(35 / 10)
    assert equal_mass_bins(stats).n == 35
    with pytest.raises(ValueError, match="max_groups"):
        equal_mass_bins(stats, max_groups=0)


def test_spiegelhalter_against_its_formula() -> None:
    p, y = sample(800, 6, rate=lambda p: 0.5 + 1.3 * (p - 0.5))
    num = np.sum((y - p) * (1 - 2 * p))
    z = num / math.sqrt(np.sum((1 - 2 * p) ** 2 * p * (1 - p)))
    t = spiegelhalter_test(CalibrationStats.from_arrays(p, y))
    assert t.z == pytest.approx(z, rel=1e-10)
    assert t.p_value == pytest.approx(2 * scipy_stats.norm.sf(abs(z)), rel=1e-10)


def test_spiegelhalter_is_undefined_when_every_forecast_is_one_half() -> None:
    t = spiegelhalter_test(CalibrationStats.from_arrays([0.5] * 4, [1.0] * 4))
    assert math.isnan(t.z) and math.isnan(t.p_value)


def test_observed_expected() -> None:
    p, y = sample(1000, 7, rate=lambda p: 0.7 * p)
    oe = observed_expected(CalibrationStats.from_arrays(p, y))
    assert oe.ratio == pytest.approx(y.sum() / p.sum())
    assert oe.z == pytest.approx((y.sum() - p.sum()) / math.sqrt(np.sum(p * (1 - p))))
    assert oe.lower < oe.ratio < oe.upper
    assert oe.upper < 1.0
    assert oe.direction == "overconfident"
    under = observed_expected(CalibrationStats.from_arrays([0.2] * 10, [1.0] * 5 + [0.0] * 5))
    assert under.direction == "underconfident" and under.ratio == pytest.approx(2.5)
    nothing_expected = observed_expected(CalibrationStats.from_arrays([0.0], [1.0]))
    assert nothing_expected.ratio == math.inf and math.isnan(nothing_expected.z)


def test_hosmer_lemeshow_against_its_formula_on_the_groups() -> None:
    p, y = sample(2000, 8, rate=lambda p: p**1.3)
    stats = CalibrationStats.from_arrays(p, y)
    g = equal_mass_bins(stats)
    o, e, n = g.sum_y, g.sum_p, g.count
    statistic = np.sum((o - e) ** 2 / (e * (1 - e / n)))
    hl = hosmer_lemeshow(stats)
    assert hl.statistic == pytest.approx(statistic, rel=1e-12)
    assert hl.df == 8
    assert hl.p_value == pytest.approx(scipy_stats.chi2.sf(statistic, 8), rel=1e-10)
    assert math.isnan(hosmer_lemeshow(CalibrationStats.from_arrays([0.3] * 20, [0.0] * 20)).p_value)


@pytest.mark.parametrize(
    "metric",
    [
        brier_decomposition,
        log_loss,
        calibration_errors,
        debiased_calibration_error,
        spiegelhalter_test,
        observed_expected,
        hosmer_lemeshow,
        equal_mass_bins,
    ],
)
def test_empty_or_wrong_input_raises(metric) -> None:
    with pytest.raises(ValueError, match="stats is empty"):
        metric(CalibrationStats.empty())
    with pytest.raises(ValueError, match="stats must be CalibrationStats"):
        metric({"count": [1]})


def test_decayed_statistics_are_weights() -> None:
    p, y = sample(500, 9)
    stats = CalibrationStats.from_arrays(p, y)
    half = stats.decayed(0.5)
    assert brier_decomposition(half).brier == pytest.approx(brier_decomposition(stats).brier)
    assert observed_expected(half).ratio == pytest.approx(observed_expected(stats).ratio)
    # half the weight, so the evidence shrinks by sqrt(2)
    assert spiegelhalter_test(half).z == pytest.approx(spiegelhalter_test(stats).z / math.sqrt(2))


def _grouped_by_unique(stats: CalibrationStats, max_groups: int) -> np.ndarray:
    """Equal-mass groups as first written (np.unique's inverse, one bincount per statistic):
    the oracle of the single-bincount version."""
    n = stats.n
    c = stats.count
    nz = c > 0
    g = max(1, min(max_groups, int(nz.sum()), int(n // 10.0)))
    mid = np.cumsum(c) - c / 2.0
    group = np.minimum((mid * g / n).astype(np.intp), g - 1)
    _, labels = np.unique(group[nz], return_inverse=True)
    k = int(labels.max()) + 1
    return np.stack([np.bincount(labels, stats.field(f)[nz], k) for f in STAT_FIELDS])


def _debiased_as_first_written(groups: np.ndarray, n: float) -> tuple[float, float]:
    c, sy = groups[0], groups[3]
    gap2 = (groups[1] / c - sy / c) ** 2
    big = c > 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        var_mean = np.where(big, (groups[4] - sy * sy / c) / (c * (c - 1.0)), 0.0)
    terms = np.where(big, gap2 - np.maximum(var_mean, 0.0), 0.0)
    return float(np.sum(c * terms)) / n, float(np.sum(c * gap2)) / n


@SETTINGS
@given(
    data=pairs,
    n_bins=st.sampled_from([5, 20, 37]),
    max_groups=st.integers(1, 12),
    factor=st.sampled_from([1.0, 0.5, 0.37]),
)
def test_equal_mass_groups_and_debiased_error_as_first_written_bit_for_bit(
    data, n_bins, max_groups, factor
) -> None:
    # fractional (decayed) counts, empty bins and single-outcome groups included
    p, y = (np.array(v) for v in zip(*data, strict=True))
    stats = CalibrationStats.from_arrays(p, y, n_bins=n_bins).decayed(factor)
    expected = _grouped_by_unique(stats, max_groups)
    grouped = equal_mass_bins(stats, max_groups=max_groups)
    assert np.array_equal(np.stack([grouped.field(f) for f in STAT_FIELDS]), expected)
    d = debiased_calibration_error(stats, max_groups=max_groups)
    assert (d.squared, d.plugin_squared) == _debiased_as_first_written(expected, stats.n)
    assert d.n_groups == expected.shape[1]
