"""Recalibration maps: method by sample size, statsmodels/scikit-learn as oracles, monotonicity,
inverse and serialisation."""

import json
import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression

from analytics_engine.calibration import CalibrationStats
from analytics_engine.recalibration import RecalibrationMap, fit_recalibration

unit = st.floats(0.0, 1.0, allow_nan=False)
outcome = st.one_of(st.sampled_from([0.0, 1.0]), unit)
pairs = st.lists(st.tuples(unit, outcome), min_size=1, max_size=150)
SETTINGS = settings(max_examples=60, deadline=None)


def overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    return p, (rng.random(n) < 0.7 * p).astype(float)


@pytest.mark.parametrize(("n", "method"), [(50, "identity"), (500, "platt"), (5000, "isotonic")])
def test_method_follows_sample_size(n: int, method: str) -> None:
    m = fit_recalibration(CalibrationStats.from_arrays(*overconfident(n, 1)))
    assert m.method == method
    assert m.n == n


def test_platt_on_grouped_bins_equals_statsmodels_logit_on_the_outcomes() -> None:
    # One confidence value per bin, so the grouped fit is exactly the per-outcome fit.
    rng = np.random.default_rng(2)
    p = rng.choice(np.arange(20) / 20 + 0.025, 1500)
    y = (rng.random(1500) < 0.8 * p).astype(float)
    m = fit_recalibration(CalibrationStats.from_arrays(p, y), method="platt")
    reference = sm.Logit(y, sm.add_constant(logit(p))).fit(disp=0)
    np.testing.assert_allclose([m.intercept, m.slope], reference.params, rtol=1e-7)
    np.testing.assert_allclose(m.apply(p), reference.predict(sm.add_constant(logit(p))), rtol=1e-7)


@SETTINGS
@given(pairs)
def test_platt_equals_statsmodels_glm_on_the_bin_means(data: list[tuple[float, float]]) -> None:
    # oracle: statsmodels GLM(Binomial) of the bin rates on logit(bin mean), var_weights = n_k
    p, y = (np.array(column) for column in zip(*data, strict=True))
    stats = CalibrationStats.from_arrays(p, y)
    m = fit_recalibration(stats, method="platt")
    nz = stats.count > 0
    c = stats.count[nz]
    x = np.maximum.accumulate(np.clip(stats.sum_p[nz] / c, 0.0, 1.0))
    design = sm.add_constant(logit(np.clip(x, 1e-9, 1 - 1e-9)), has_constant="add")
    rate = np.minimum(stats.sum_y[nz], c) / c
    if m.method != "platt" or m.slope == 0:
        return  # fell back (fewer than 3 bins, separation, no signal): checked elsewhere
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = sm.GLM(rate, design, family=sm.families.Binomial(), var_weights=c).fit()

    def loglik(params: np.ndarray) -> float:
        mu = np.clip(expit(design @ params), 1e-300, 1 - 1e-16)
        return float(np.sum(c * (rate * np.log(mu) + (1 - rate) * np.log1p(-mu))))

    ours = np.array([m.intercept, m.slope])
    if np.abs(design @ ours).max() > 15:  # a bin fitted within 3e-7 of 0 or 1: (nearly)
        # separated bins, where the likelihood has no maximum or a flat ridge and IRLS and
        # statsmodels stop at different points of it (seen: slopes 32.28 and 32.33; 40.5 and
        # 83.6 on rates 0, 0, 1 graded 1e-38 above zero): nothing to compare
        return
    # Both maximise the same likelihood: the same point, and ours no worse.
    np.testing.assert_allclose(ours, reference.params, rtol=1e-6, atol=1e-9)
    assert loglik(ours) >= loglik(reference.params) - 1e-9 * max(1.0, abs(loglik(ours)))


def test_separated_bins_fall_back_to_the_histogram() -> None:
    # Rates 0, 1, 1 on increasing confidence: the likelihood grows without bound (no MLE), so
    # IRLS stops at an arbitrary point (it went to a = 37, b = 3.7 where statsmodels stopped
    # at a = 21, b = 2.0); such a fit is not a map.
    stats = CalibrationStats.from_arrays(np.array([0.0, 1.0, 0.5]), np.array([0.0, 1.0, 1.0]))
    assert fit_recalibration(stats, method="platt").method == "histogram"


def test_isotonic_equals_scikit_learn_on_bin_aggregates() -> None:
    p, y = overconfident(6000, 3)
    stats = CalibrationStats.from_arrays(p, y)
    m = fit_recalibration(stats)
    ok = stats.count > 0
    x = stats.sum_p[ok] / stats.count[ok]
    rate = stats.sum_y[ok] / stats.count[ok]
    iso = IsotonicRegression(out_of_bounds="clip").fit(x, rate, sample_weight=stats.count[ok])
    grid = np.linspace(0, 1, 501)
    np.testing.assert_allclose(m.apply(grid), iso.predict(grid), atol=1e-12)


def test_histogram_shrinks_towards_identity() -> None:
    stats = CalibrationStats.from_arrays([0.9] * 10 + [0.1] * 10, [0.0] * 10 + [1.0] * 10)
    m = fit_recalibration(stats, method="histogram", prior_strength=10)
    # (0 + 10·0.9) / 20 = 0.45 and (10 + 10·0.1) / 20 = 0.55, pooled to 0.5 by PAV
    assert m.apply([0.1, 0.9]).tolist() == pytest.approx([0.5, 0.5])


def test_platt_falls_back_when_confidence_carries_no_signal() -> None:
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, 800)
    y = (rng.random(800) < 0.9 - 0.6 * p).astype(float)  # decreasing: no monotone signal
    m = fit_recalibration(CalibrationStats.from_arrays(p, y), method="platt")
    assert m.slope == 0.0
    assert m.apply(0.1) == pytest.approx(m.apply(0.9))
    few_bins = fit_recalibration(
        CalibrationStats.from_arrays([0.5] * 300, [1.0] * 200 + [0.0] * 100)
    )
    assert few_bins.method == "histogram"


@SETTINGS
@given(pairs, st.sampled_from(["auto", "histogram", "platt", "isotonic"]))
def test_maps_are_monotone_in_unit_interval_and_invert(data, method) -> None:
    stats = CalibrationStats.from_arrays([d[0] for d in data], [d[1] for d in data])
    m = fit_recalibration(stats, method=method, min_n=20, isotonic_min_n=80)
    grid = np.linspace(0, 1, 401)
    q = m.apply(grid)
    assert ((q >= 0) & (q <= 1)).all()
    assert (np.diff(q) >= -1e-12).all()
    for target in np.linspace(0, 1, 11):
        raw = m.inverse(float(target))
        if np.isnan(raw):
            assert m.apply(1.0) < target
            continue
        assert 0 <= raw <= 1
        assert m.apply(raw) >= target - 1e-6  # reaches the target
        if raw > 1e-6:
            assert m.apply(raw - 1e-6) <= target + 1e-9  # and is about the smallest that does


@SETTINGS
@given(pairs, st.sampled_from(["identity", "histogram", "platt", "isotonic"]))
def test_round_trip_through_json(data, method) -> None:
    stats = CalibrationStats.from_arrays([d[0] for d in data], [d[1] for d in data])
    m = fit_recalibration(stats, method=method)
    restored = RecalibrationMap.from_dict(json.loads(json.dumps(m.to_dict())))
    assert restored == m


def test_apply_is_vectorised_and_keeps_scalars_scalar() -> None:
    m = fit_recalibration(CalibrationStats.from_arrays(*overconfident(5000, 5)))
    assert isinstance(m.apply(0.5), float)
    assert m.apply(np.full((3, 2), 0.5)).shape == (3, 2)
    xs, ys = m.points(11)
    assert xs.shape == ys.shape == (11,)
    assert RecalibrationMap.identity().apply(0.37) == 0.37


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), [0.2, float("nan")]])
def test_bad_inputs_raise(bad) -> None:
    m = RecalibrationMap.identity()
    with pytest.raises(ValueError, match=r"^p "):
        m.apply(bad)
    with pytest.raises(ValueError, match=r"^q "):
        m.inverse(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "magic"}, "method must be one of"),
        ({"method": "isotonic", "xs": (0.5, 0.2), "ys": (0.1, 0.2)}, "non-decreasing"),
        ({"method": "isotonic", "xs": (0.2, 0.5), "ys": (0.3, 0.2)}, "non-decreasing"),
        ({"method": "isotonic", "xs": (0.2,), "ys": (0.3, 0.4)}, "same length"),
        ({"method": "isotonic", "xs": (0.2, 1.5), "ys": (0.3, 0.4)}, r"\[0, 1\]"),
        ({"method": "platt", "slope": -1.0}, "slope"),
    ],
)
def test_invalid_maps_are_rejected(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        RecalibrationMap(**kwargs)


def test_fit_validates_its_options() -> None:
    stats = CalibrationStats.from_arrays([0.5], [1.0])
    with pytest.raises(ValueError, match="method must be"):
        fit_recalibration(stats, method="best")
    with pytest.raises(ValueError, match="stats must be CalibrationStats"):
        fit_recalibration([0.5])
    with pytest.raises(ValueError, match="prior_strength"):
        fit_recalibration(stats, prior_strength=0)
    assert fit_recalibration(CalibrationStats.empty()).method == "identity"
