"""Reliability curve against scikit-learn/statsmodels, and the CORP decomposition."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
from statsmodels.stats.proportion import proportion_confint

from analytics_engine.calibration import (
    CalibrationStats,
    brier_decomposition,
    corp_reliability,
    reliability_curve,
)
from analytics_engine.isotonic import pool_adjacent_violators

unit = st.floats(0.0, 1.0, allow_nan=False)
outcome = st.one_of(st.sampled_from([0.0, 1.0]), unit)
pairs = st.lists(st.tuples(unit, outcome), min_size=1, max_size=120)


def sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(4, 2, n)
    return p, (rng.random(n) < p**1.4).astype(float)


def test_curve_matches_scikit_learn_on_nonempty_bins() -> None:
    p, y = sample(3000, 1)
    curve = reliability_curve(CalibrationStats.from_arrays(p, y))
    prob_true, prob_pred = calibration_curve(y, p, n_bins=20, strategy="uniform")
    nonempty = curve.count > 0
    np.testing.assert_allclose(curve.observed_rate[nonempty], prob_true, rtol=1e-12)
    np.testing.assert_allclose(curve.mean_confidence[nonempty], prob_pred, rtol=1e-12)
    np.testing.assert_allclose(curve.bin_lower, np.arange(20) / 20)


def test_intervals_match_statsmodels_per_bin() -> None:
    p, y = sample(800, 2)
    curve = reliability_curve(CalibrationStats.from_arrays(p, y), alpha=0.1)
    ok = curve.count > 0
    successes = np.round(curve.observed_rate[ok] * curve.count[ok])
    lo, hi = proportion_confint(successes, curve.count[ok], alpha=0.1, method="wilson")
    np.testing.assert_allclose(curve.wilson_lower[ok], lo, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(curve.wilson_upper[ok], hi, rtol=1e-9, atol=1e-12)
    inside = (successes > 0) & (successes < curve.count[ok])
    lo, hi = proportion_confint(successes, curve.count[ok], alpha=0.1, method="jeffreys")
    np.testing.assert_allclose(curve.jeffreys_lower[ok][inside], lo[inside], rtol=1e-9)
    np.testing.assert_allclose(curve.jeffreys_upper[ok][inside], hi[inside], rtol=1e-9)


def test_empty_bins_are_reported_not_dropped() -> None:
    curve = reliability_curve(CalibrationStats.from_arrays([0.92, 0.95], [1.0, 0.0], n_bins=10))
    assert curve.count.tolist() == [0.0] * 9 + [2.0]
    assert np.isnan(curve.mean_confidence[:9]).all() and np.isnan(curve.observed_rate[:9]).all()
    assert (curve.wilson_lower[:9] == 0).all() and (curve.jeffreys_upper[:9] == 1).all()
    assert curve.observed_rate[9] == 0.5
    with pytest.raises(ValueError, match="stats is empty"):
        reliability_curve(CalibrationStats.empty())


def test_corp_curve_is_weighted_isotonic_regression_of_the_bin_aggregates() -> None:
    p, y = sample(2000, 3)
    stats = CalibrationStats.from_arrays(p, y)
    corp = corp_reliability(stats)
    iso = IsotonicRegression().fit(
        corp.mean_confidence, corp.observed_rate, sample_weight=corp.count
    )
    np.testing.assert_allclose(corp.calibrated, iso.predict(corp.mean_confidence), atol=1e-12)
    assert corp.score == pytest.approx(brier_decomposition(stats).binned_brier, abs=1e-12)
    assert corp.unc == pytest.approx(np.var(y), abs=1e-12)


def test_corp_hand_worked() -> None:
    # Bins at 0.2 (1 of 2 succeed) and 0.6 (0 of 2) violate monotonicity and pool to 0.25;
    # the bin at 0.9 (1 of 1) stays. Binned forecast score S(F) = (0.04 + 0.64 + 0.36 + 0.36
    # + 0.01) / 5 = 0.282; S(C) = (3·0.25² + 0.75² + 0²) / 5 = 0.15; S(R) = ȳ(1 − ȳ) = 0.24;
    # MCB = S(F) − S(C) = 0.132, DSC = S(R) − S(C) = 0.09.
    s = CalibrationStats.from_arrays(
        [0.2, 0.2, 0.6, 0.6, 0.9], [0.0, 1.0, 0.0, 0.0, 1.0], n_bins=10
    )
    r = corp_reliability(s)
    assert r.calibrated.tolist() == [0.25, 0.25, 1.0]
    assert r.score == pytest.approx(0.282, abs=1e-15)
    assert r.mcb == pytest.approx(0.132, abs=1e-15)
    assert r.dsc == pytest.approx(0.09, abs=1e-15)
    assert r.unc == pytest.approx(0.24, abs=1e-15)


@settings(max_examples=80, deadline=None)
@given(pairs)
def test_corp_identity_and_signs(data) -> None:
    stats = CalibrationStats.from_arrays([d[0] for d in data], [d[1] for d in data])
    r = corp_reliability(stats)
    assert abs(r.score - (r.mcb - r.dsc + r.unc)) <= 1e-12
    assert r.mcb >= -1e-12 and r.dsc >= -1e-12
    assert (np.diff(r.calibrated) >= -1e-12).all()
    assert r.count.sum() == pytest.approx(len(data))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(unit, st.floats(0.01, 100)), min_size=1, max_size=30))
def test_pav_matches_scikit_learn(points) -> None:
    values = np.array([v for v, _ in points])
    weights = np.array([w for _, w in points])
    fitted = pool_adjacent_violators(values, weights)
    x = np.arange(len(values), dtype=float)
    expected = IsotonicRegression().fit(x, values, sample_weight=weights).predict(x)
    np.testing.assert_allclose(fitted, expected, atol=1e-9)


def test_pav_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="weights must be positive"):
        pool_adjacent_violators([0.1, 0.2], [1.0, 0.0])
    with pytest.raises(ValueError, match="same length"):
        pool_adjacent_violators([0.1, 0.2], [1.0])
    with pytest.raises(ValueError, match="finite"):
        pool_adjacent_violators([np.nan], [1.0])
