"""The calibration e-process: a fair game under calibration (checked exactly over every outcome
path), batches equal single updates, the false-alarm bound, detection and its direction."""

import doctest
import importlib
import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, logit

from analytics_engine.monitoring import CalibrationMonitor, monitor_calibration

unit = st.floats(0.0, 1.0, allow_nan=False)


def test_the_e_value_is_a_fair_game_under_calibration_exactly() -> None:
    # Under calibration every path of 8 outcomes has probability Π p^y (1 − p)^(1 − y); the
    # expected e-value after each outcome must be exactly 1 (a martingale started at 1).
    p = np.array([0.1, 0.9, 0.5, 0.3, 0.7, 0.99, 0.02, 0.6])
    expected = np.zeros(p.size)
    for path in itertools.product([0.0, 1.0], repeat=p.size):
        y = np.array(path)
        probability = np.cumprod(np.where(y == 1, p, 1 - p))
        expected += probability[-1] * monitor_calibration(p, y).e_values
    np.testing.assert_allclose(expected, 1.0, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(unit, unit), min_size=1, max_size=60), st.integers(0, 60))
def test_a_batch_equals_its_outcomes_one_by_one(data: list[tuple[float, float]], cut: int) -> None:
    p, y = (np.array(column) for column in zip(*data, strict=True))
    whole = CalibrationMonitor().update(p, y)
    split = CalibrationMonitor().update(p[:cut], y[:cut]).update(p[cut:], y[cut:])
    single = CalibrationMonitor()
    for pi, yi in zip(p.tolist(), y.tolist(), strict=True):
        single = single.update(pi, yi)
    for other in (split, single):
        np.testing.assert_allclose(other.log_wealth, whole.log_wealth, rtol=1e-9, atol=1e-9)
        assert other.max_log_e == pytest.approx(whole.max_log_e, rel=1e-9, abs=1e-9)
        assert other.n == whole.n
    assert all(math.isfinite(w) for w in whole.log_wealth)  # p of 0 or 1 included
    assert whole.alarm(alpha=0.05) == (whole.p_value <= 0.05)


def test_false_alarms_stay_under_alpha_when_looking_after_every_outcome() -> None:
    rng = np.random.default_rng(2026)
    runs, horizon = 300, 3000
    alarms = 0
    for _ in range(runs):
        p = rng.random(horizon)
        alarms += (
            monitor_calibration(p, (rng.random(horizon) < p).astype(float)).first_alarm is not None
        )
    # Ville: P(alarm) <= 0.05; three standard errors of slack for the simulation
    assert alarms / runs <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs)


@pytest.mark.parametrize(
    ("truth", "direction"),
    [
        (lambda p: expit(logit(p) / 2), "extreme"),  # temperature 2: overconfident at both ends
        (lambda p: expit(logit(p) * 2), "timid"),  # temperature 0.5
        (lambda p: 0.7 * p, "below"),  # outcomes fall short of the confidence
        (lambda p: np.minimum(1.0, 0.2 + p), "above"),
    ],
)
def test_miscalibration_is_detected_with_its_direction(truth: object, direction: str) -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, 3000)
    y = (rng.random(3000) < truth(p)).astype(float)  # type: ignore[operator]
    trace = monitor_calibration(p, y)
    assert trace.first_alarm is not None and trace.first_alarm < 1500
    assert trace.state.direction == direction
    assert trace.state.p_value <= 0.05


def test_the_first_alarm_is_reported_once() -> None:
    rng = np.random.default_rng(4)
    p = rng.random(1000)
    y = (rng.random(1000) < 0.6 * p).astype(float)
    first = monitor_calibration(p[:500], y[:500])
    assert first.first_alarm is not None
    later = monitor_calibration(p[500:], y[500:], state=first.state)
    assert later.first_alarm is None and later.state.alarm()


def test_state_round_trips_through_json() -> None:
    state = CalibrationMonitor().update([0.2, 0.8, 0.5], [0.0, 1.0, 1.0])
    again = CalibrationMonitor.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state
    assert CalibrationMonitor().e_value == 1.0 and CalibrationMonitor().p_value == 1.0


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="p has values outside"):
        monitor_calibration([1.5], [1.0])
    with pytest.raises(ValueError, match="y has values outside"):
        monitor_calibration([0.5], [2.0])
    with pytest.raises(ValueError, match="same length"):
        monitor_calibration([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="alpha"):
        monitor_calibration([0.5], [1.0], alpha=1.0)
    with pytest.raises(ValueError, match="state must be CalibrationMonitor"):
        monitor_calibration([0.5], [1.0], state={})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="log_wealth"):
        CalibrationMonitor.from_dict({**CalibrationMonitor().to_dict(), "log_wealth": [0.0]})


def test_docstring_examples() -> None:
    result = doctest.testmod(importlib.import_module("analytics_engine.monitoring"))
    assert result.attempted > 0 and result.failed == 0
