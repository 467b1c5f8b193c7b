"""Following drift: decayed statistics against weighted logistic fits (statsmodels and
scikit-learn as oracles) and the plain statistics, the change detector against a loop of its
recursion, a hand-worked example, its fair-game bound checked exactly over every outcome path,
batches against single updates, and its behaviour on steady and changed streams."""

import doctest
import importlib
import itertools
import json
import math

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

from analytics_engine.calibration import CalibrationStats
from analytics_engine.drift import (
    CHANGE_SPREAD,
    DEFAULT_THRESHOLD,
    N_BETTORS,
    ChangeDetector,
    change_prior,
    decay_weights,
    decayed_stats,
    detect_change,
    forgetting_factor,
)
from analytics_engine.pooling import GroupPrior, fit_pooled_recalibration, sibling_fits
from analytics_engine.recalibration import fit_recalibration

unit = st.floats(0.0, 1.0, allow_nan=False)
streams = st.lists(st.tuples(unit, st.sampled_from([0.0, 1.0])), min_size=1, max_size=50)


def test_doctests() -> None:
    result = doctest.testmod(importlib.import_module("analytics_engine.drift"))
    assert result.attempted > 0 and result.failed == 0


def test_forgetting_by_hand() -> None:
    assert forgetting_factor(2.0) == pytest.approx(math.sqrt(0.5))
    assert decay_weights(4, half_life=2.0).tolist() == pytest.approx([0.5**1.5, 0.5, 0.5**0.5, 1.0])
    s = decayed_stats([0.2, 0.9], [0.0, 1.0], half_life=1.0)
    assert s.count[3] == 0.5 and s.count[17] == 1.0  # bins of 0.2 and 0.9 (20 bins)
    assert s.sum_sq_err[3] == pytest.approx(0.5 * 0.04)
    assert s.sum_log_loss[17] == pytest.approx(-math.log(0.9))
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="half_life"):
            forgetting_factor(bad)
    with pytest.raises(ValueError, match="p has values outside"):
        decayed_stats([1.5], [1.0], half_life=10.0)
    with pytest.raises(ValueError, match="same length"):
        decayed_stats([0.5, 0.5], [1.0], half_life=10.0)


def _one_confidence_per_bin(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    # Every bin holds one confidence value, so the bin-mean fit is the per-outcome fit.
    rng = np.random.default_rng(seed)
    levels = (np.arange(20) + 0.5) / 20
    p = levels[rng.integers(0, 20, n)]
    y = (rng.random(n) < expit(logit(p) / 2.0)).astype(np.float64)
    return p, y


@pytest.mark.parametrize("half_life", [50.0, 300.0])
def test_platt_on_decayed_statistics_is_the_weighted_logistic_fit(half_life: float) -> None:
    p, y = _one_confidence_per_bin(5, 1500)
    w = decay_weights(p.size, half_life=half_life)
    m = fit_recalibration(decayed_stats(p, y, half_life=half_life), method="platt")
    exog = sm.add_constant(logit(p))
    # statsmodels' binomial GLM with the decay weights as var_weights: the same score equations
    glm = sm.GLM(y, exog, family=sm.families.Binomial(), var_weights=w).fit()
    np.testing.assert_allclose([m.intercept, m.slope], glm.params, rtol=1e-6, atol=1e-8)
    # scikit-learn's unpenalised logistic regression with sample weights: the same estimate
    lr = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000)
    lr.fit(logit(p)[:, None], y, sample_weight=w)
    np.testing.assert_allclose(
        [m.intercept, m.slope], [lr.intercept_[0], lr.coef_[0, 0]], rtol=1e-4, atol=1e-5
    )


@settings(max_examples=30, deadline=None)
@given(streams)
def test_no_forgetting_gives_the_plain_statistics(data: list[tuple[float, float]]) -> None:
    p, y = (np.array(column) for column in zip(*data, strict=True))
    plain = CalibrationStats.from_arrays(p, y)
    forever = decayed_stats(p, y, half_life=math.inf)
    for name in ("count", "sum_p", "sum_y", "sum_py", "sum_sq_err", "sum_log_loss"):
        np.testing.assert_allclose(forever.field(name), plain.field(name), rtol=1e-12, atol=1e-9)


def test_no_forgetting_gives_the_plain_fit() -> None:
    rng = np.random.default_rng(2)
    p = rng.random(3000)
    y = (rng.random(3000) < expit(logit(p) / 2)).astype(float)
    plain = fit_recalibration(CalibrationStats.from_arrays(p, y), method="platt")
    forever = fit_recalibration(decayed_stats(p, y, half_life=math.inf), method="platt")
    assert forever.intercept == pytest.approx(plain.intercept, abs=1e-9)
    assert forever.slope == pytest.approx(plain.slope, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(streams, st.integers(0, 50), st.floats(0.5, 500.0))
def test_decaying_then_adding_equals_decaying_the_whole_stream(
    data: list[tuple[float, float]], cut: int, half_life: float
) -> None:
    # What the backend does with rollups: the old part decayed by its age, plus the new part.
    p, y = (np.array(column) for column in zip(*data, strict=True))
    cut = min(cut, p.size)
    whole = decayed_stats(p, y, half_life=half_life)
    age = p.size - cut
    old = decayed_stats(p[:cut], y[:cut], half_life=half_life).decayed(0.5 ** (age / half_life))
    parts = old.merge(decayed_stats(p[cut:], y[cut:], half_life=half_life))
    for name in ("count", "sum_p", "sum_y", "sum_spieg_num", "sum_log_loss"):
        np.testing.assert_allclose(parts.field(name), whole.field(name), rtol=1e-9, atol=1e-12)


# -- the change detector ----------------------------------------------------------------------


def test_detector_by_hand() -> None:
    # q = 1/2, y = 1: residual 1/2, logit q = 0 (the four slope bettors stake nothing). The
    # in-the-large bettors stake ±0.5, ±1: factors 1.25, 1.5 and 0.75, 0.5.
    first = detect_change([0.5], [1.0])
    assert first.statistic[0] == pytest.approx((1.25 + 1.5 + 0.75 + 0.5 + 4) / 8)
    # again: C = max(C, 1) · L, so the losing bettors restart from 1
    second = detect_change([0.5], [1.0], state=first.state)
    expected = (1.25**2 + 1.5**2 + 0.75 + 0.5 + 4) / 8
    assert second.statistic[0] == pytest.approx(expected)
    assert first.alarm is None and second.state.n == 2


def _loop_cusum(q: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The recursion written out, outcome by outcome: the oracle of the vectorised form."""
    z = np.log(np.clip(q, 1e-6, 1) / np.clip(1 - q, 1e-6, 1))
    log_c = np.zeros(N_BETTORS)
    start = np.zeros(N_BETTORS, dtype=int)
    for t in range(q.size):
        qt, yt = float(q[t]), float(y[t])
        k = 0
        for weight in (1.0, z[t]):
            for sign in (1.0, -1.0):
                for size in (0.5, 1.0):
                    bet = sign * size * weight
                    if qt > 0.5 / 1e300:  # beyond: the bound is infinite
                        bet = min(bet, 0.5 / qt)
                    if 1 - qt > 0.5 / 1e300:
                        bet = max(bet, -0.5 / (1 - qt))
                    if log_c[k] <= 0:
                        log_c[k], start[k] = 0.0, t
                    log_c[k] += math.log1p(bet * (yt - qt))
                    k += 1
    return log_c, start


@settings(max_examples=40, deadline=None)
@given(streams, st.integers(0, 50))
def test_batches_equal_the_recursion_one_by_one(data: list[tuple[float, float]], cut: int) -> None:
    q, y = (np.array(column) for column in zip(*data, strict=True))
    whole = detect_change(q, y, threshold=1e300).state
    split = detect_change(q[:cut], y[:cut], threshold=1e300).state
    split = detect_change(q[cut:], y[cut:], state=split, threshold=1e300).state
    log_c, _ = _loop_cusum(q, y)
    np.testing.assert_allclose(whole.log_c, log_c, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(split.log_c, log_c, rtol=1e-9, atol=1e-9)
    assert whole.n == split.n == q.size


def test_the_change_point_is_where_the_leading_bettor_was_poorest() -> None:
    rng = np.random.default_rng(7)
    q = rng.random(600)
    hot = expit(logit(q) / 3)
    y = (rng.random(600) < np.where(np.arange(600) < 300, q, hot)).astype(float)
    trace = detect_change(q, y, threshold=50.0)
    assert trace.alarm is not None and trace.change_point is not None
    log_c, start = _loop_cusum(q[: trace.alarm], y[: trace.alarm])
    assert trace.change_point == start[int(np.argmax(log_c))]
    assert 200 <= trace.change_point <= 360


def test_the_statistic_is_a_fair_game_bound_exactly() -> None:
    # Under calibration E[M_t] ≤ t (M is below the Shiryaev–Roberts mean, whose expectation
    # is t): checked over all 2^8 outcome paths, each weighted by its probability.
    q = np.array([0.1, 0.9, 0.5, 0.3, 0.7, 0.99, 0.02, 0.6])
    expected = np.zeros(q.size)
    for path in itertools.product([0.0, 1.0], repeat=q.size):
        y = np.array(path)
        probability = float(np.prod(np.where(y == 1, q, 1 - q)))
        expected += probability * detect_change(q, y, threshold=1e300).statistic
    assert (expected <= np.arange(1, q.size + 1) + 1e-12).all()


def test_calibrated_streams_alarm_rarely_and_a_change_does() -> None:
    rng = np.random.default_rng(11)
    first = []
    for _ in range(100):
        q = rng.random(3000)
        alarm = detect_change(q, (rng.random(3000) < q).astype(float)).alarm
        first.append(3000 if alarm is None else alarm)
    # E[first false alarm] ≥ the threshold; the mean of min(alarm, 3000) bounds it below
    assert np.mean(first) >= DEFAULT_THRESHOLD
    q = rng.random(2000)
    timid = expit(2 * logit(q))  # the map is too timid: outcomes more extreme
    changed = detect_change(q, (rng.random(2000) < timid).astype(float))
    assert changed.alarm is not None and changed.alarm < 300


def test_state_round_trip_and_validation() -> None:
    state = detect_change([0.2, 0.7, 0.9], [0.0, 1.0, 0.0]).state
    assert ChangeDetector.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    assert ChangeDetector().statistic == 1.0
    with pytest.raises(ValueError, match="threshold"):
        detect_change([0.5], [1.0], threshold=1.0)
    with pytest.raises(ValueError, match="q has values outside"):
        detect_change([1.2], [1.0])
    with pytest.raises(ValueError, match="log_c and start"):
        ChangeDetector(log_c=(0.0,))
    empty = detect_change([], [])
    assert empty.alarm is None and empty.state == ChangeDetector()


def _agent(rng: np.random.Generator, n: int, temperature: float) -> CalibrationStats:
    p = rng.random(n)
    return CalibrationStats.from_arrays(p, rng.random(n) < expit(logit(p) / temperature))


def test_the_prior_after_a_change_is_the_fit_before_widened() -> None:
    rng = np.random.default_rng(5)
    before = _agent(rng, 1500, 1.0)
    prior = change_prior(before)
    own = sibling_fits([before])  # the Platt fit and covariance tested against statsmodels
    assert prior is not None and prior.origin == "past" and prior.n_agents == 1
    assert prior.mean.tolist() == own.params[0].tolist()
    assert prior.between == pytest.approx(own.covariances[0] + CHANGE_SPREAD**2 * np.eye(2))
    wider = change_prior(before, spread=1.0)
    assert wider is not None and wider.between[0, 0] == pytest.approx(prior.between[0, 0] + 0.9375)
    assert change_prior(CalibrationStats.empty()) is None  # nothing identified: plain restart
    with pytest.raises(ValueError, match="spread"):
        change_prior(before, spread=0.0)
    with pytest.raises(ValueError, match="before must be CalibrationStats"):
        change_prior([0.5])  # type: ignore[arg-type]


def test_after_a_change_the_data_take_over_by_their_weight_never_by_a_test() -> None:
    # The agent was calibrated (slope 1) and now runs at temperature 4 (slope 1/4): its own fit
    # conflicts with its past map, which siblings' prior would let go of at once; its past map
    # is kept as the prior, and the map moves toward the new slope as the outcomes grow.
    rng = np.random.default_rng(9)
    prior = change_prior(_agent(rng, 2000, 1.0))
    assert prior is not None
    slopes = []
    for n in (50, 200, 1000, 5000):
        after = _agent(rng, n, 4.0)
        fitted = fit_pooled_recalibration(after, prior)
        assert fitted.source == "pooled" and "before its change" in fitted.reason
        as_siblings = GroupPrior(prior.mean, prior.between, n_agents=2, n=prior.n)
        if n >= 1000:
            assert fit_pooled_recalibration(after, as_siblings).source == "own"
        slopes.append(fitted.map.slope)
    assert slopes == sorted(slopes, reverse=True)  # from about 1 toward 1/4
    assert 0.35 < slopes[0] < 0.9 and abs(slopes[-1] - 0.25) < 0.05  # 50: still in between
