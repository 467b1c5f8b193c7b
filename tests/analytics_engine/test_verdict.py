"""assess(): verdicts on simulated agents and false alarms under continuous monitoring."""

import json
import math

import numpy as np
import pytest

from analytics_engine.calibration import CalibrationStats
from analytics_engine.monitoring import CalibrationMonitor
from analytics_engine.monitoring_simulation import false_alarm_rate, high_confidence
from analytics_engine.verdict import Verdict, VerdictKind, assess, confirm


def agent(n: int, seed: int, rate, low: float = 0.05, high: float = 0.95) -> CalibrationStats:
    rng = np.random.default_rng(seed)
    p = rng.uniform(low, high, n)
    return CalibrationStats.from_arrays(p, (rng.random(n) < rate(p)).astype(float))


def test_verdict_kind_values() -> None:
    assert [k.value for k in VerdictKind] == [
        "insufficient_data",
        "calibrated",
        "overconfident",
        "underconfident",
        "miscalibrated",
    ]
    assert VerdictKind.CALIBRATED == "calibrated"


def test_to_dict_is_json_safe() -> None:
    empty = assess(CalibrationStats.empty()).to_dict()
    assert empty["kind"] == "insufficient_data" and empty["z"] is None
    full = assess(agent(1000, 4, lambda p: 0.7 * p)).to_dict()
    assert json.loads(json.dumps(full, allow_nan=False)) == full
    assert full["kind"] == "overconfident" and isinstance(full["reason"], str)


def test_insufficient_data_below_min_n_and_when_empty() -> None:
    v = assess(agent(99, 1, lambda p: 0.5 * p))
    assert v.kind is VerdictKind.INSUFFICIENT_DATA
    assert "99" in v.reason and "100" in v.reason
    empty = assess(CalibrationStats.empty())
    assert empty.kind is VerdictKind.INSUFFICIENT_DATA and empty.n == 0 and math.isnan(empty.z)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_calibrated_agent(seed: int) -> None:
    v = assess(agent(3000, seed, lambda p: p))
    assert v.kind is VerdictKind.CALIBRATED
    assert not v.is_actionable
    assert "No evidence" in v.reason


def test_overconfident_agent() -> None:
    v = assess(agent(1000, 4, lambda p: 0.7 * p))
    assert v.kind is VerdictKind.OVERCONFIDENT
    assert v.observed_expected < 0.8 and v.oe_upper < 1 and v.oe_z < -3
    assert v.reason.startswith("Overconfident")
    assert isinstance(v, Verdict) and v.is_actionable


def test_underconfident_agent() -> None:
    v = assess(agent(1000, 5, lambda p: np.minimum(1.0, 1.3 * p), high=0.7))
    assert v.kind is VerdictKind.UNDERCONFIDENT
    assert v.observed_expected > 1.1 and v.oe_z > 3


def test_shape_without_direction_is_miscalibrated() -> None:
    # Too extreme: overconfident at high p, underconfident at low p, right on average.
    v = assess(agent(3000, 6, lambda p: 0.5 + 0.5 * (p - 0.5)))
    assert v.kind is VerdictKind.MISCALIBRATED
    assert abs(v.observed_expected - 1) < 0.1 and v.z > 3 and v.debiased_error >= 0.03
    assert "too extreme" in v.reason


def test_small_effects_are_not_acted_on() -> None:
    # 5% overconfidence is real but below min_effect: with huge n it is significant, not big.
    v = assess(agent(200_000, 7, lambda p: 0.95 * p))
    assert abs(v.oe_z) > 3
    assert v.kind is VerdictKind.CALIBRATED
    assert assess(agent(200_000, 7, lambda p: 0.95 * p), min_effect=0.04).kind == "overconfident"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_n": 0}, "min_n"),
        ({"z_threshold": -1}, "z_threshold"),
        ({"min_effect": -0.1}, "min_effect"),
        ({"min_error": float("nan")}, "min_error"),
    ],
)
def test_bad_options_raise(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        assess(CalibrationStats.empty(), **kwargs)
    with pytest.raises(ValueError, match="stats must be CalibrationStats"):
        assess(None)


def test_false_alarms_under_continuous_monitoring_are_rare() -> None:
    # Smaller version of bench/false_alarms.py (docs/calibration.md has the full figures).
    strict = false_alarm_rate(runs=120, horizon=3000, rng=np.random.default_rng(2024))
    naive = false_alarm_rate(
        runs=120,
        horizon=3000,
        rng=np.random.default_rng(2024),
        min_n=1,
        z_threshold=1.96,
        min_effect=0.0,
        min_error=0.0,
    )
    assert strict.rate < 0.10
    assert naive.rate > 0.30
    skewed = false_alarm_rate(
        runs=80, horizon=3000, rng=np.random.default_rng(7), confidence=high_confidence
    )
    assert skewed.rate < 0.10


def test_candidate_shortcut_equals_evaluating_after_every_outcome() -> None:
    options = {"min_n": 30, "z_threshold": 2.0, "min_effect": 0.05, "min_error": 0.02}
    fast = false_alarm_rate(runs=12, horizon=400, rng=np.random.default_rng(5), **options)
    slow = false_alarm_rate(
        runs=12, horizon=400, rng=np.random.default_rng(5), exhaustive=True, **options
    )
    assert fast.first_alarm.tolist() == slow.first_alarm.tolist()
    assert fast.alarms > 0


def test_doctests() -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module("analytics_engine.verdict"))
    assert result.attempted > 0 and result.failed == 0


def test_confirm_holds_back_what_the_monitor_has_not_confirmed() -> None:
    stats = agent(2000, 3, lambda p: 0.7 * p)
    rule = assess(stats)
    assert rule.kind is VerdictKind.OVERCONFIDENT
    quiet = CalibrationMonitor()  # never fed: e-value 1
    held = confirm(rule, quiet)
    assert held.kind is VerdictKind.CALIBRATED and not held.is_actionable
    assert held.reason.startswith("Not yet confirmed at any horizon: Overconfident:")
    assert (held.e_value, held.anytime_p_value) == (1.0, 1.0)
    assert (held.n, held.observed_expected) == (rule.n, rule.observed_expected)
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, 2000)
    alarmed = quiet.update(p, (rng.random(2000) < 0.7 * p).astype(float))
    confirmed = confirm(rule, alarmed)
    assert confirmed.kind is VerdictKind.OVERCONFIDENT and confirmed.e_value >= 20
    assert "confirmed at any horizon (e-value" in confirmed.reason
    # A verdict that does not act is never changed, only measured.
    calm = confirm(assess(agent(2000, 4, lambda p: p)), alarmed)
    assert calm.kind is VerdictKind.CALIBRATED and calm.e_value == alarmed.e_value
    assert json.loads(json.dumps(confirmed.to_dict()))["e_value"] == pytest.approx(alarmed.e_value)


def test_confirmed_verdicts_of_calibrated_agents_are_rare_at_any_horizon() -> None:
    # Each run is a calibrated agent judged after every 50 outcomes up to 3,000 by the rule and
    # its monitor: a confirmed actionable verdict needs the e-process to have reached 20, which
    # happens with probability at most 5 % (Ville), whatever the horizon.
    rng = np.random.default_rng(20261207)
    fired = 0
    for _ in range(100):
        p = rng.uniform(0.05, 0.95, 3000)
        y = (rng.random(3000) < p).astype(float)
        monitor, stats = CalibrationMonitor(), CalibrationStats.empty()
        for start in range(0, 3000, 50):
            chunk = slice(start, start + 50)
            monitor = monitor.update(p[chunk], y[chunk])
            stats.add_many(p[chunk], y[chunk])
            if confirm(assess(stats), monitor).is_actionable:
                fired += 1
                break
    assert fired <= 5
