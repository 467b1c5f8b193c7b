"""adjust_policy(): thresholds through the recalibration map, bounds, steps and hysteresis."""

import numpy as np
import pytest

from analytics_engine.calibration import CalibrationStats
from analytics_engine.policy import (
    AdjustmentKind,
    PolicyAdjustment,
    PolicyTarget,
    PolicyThresholds,
    ThresholdDirection,
    ThresholdMove,
    adjust_policy,
)
from analytics_engine.recalibration import RecalibrationMap
from analytics_engine.verdict import VerdictKind, assess

CURRENT = PolicyThresholds(escalate_below=0.3, autonomous_above=0.7)


def agent(n: int, seed: int, rate) -> CalibrationStats:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.99, n)
    return CalibrationStats.from_arrays(p, (rng.random(n) < rate(p)).astype(float))


def test_no_change_without_enough_data_or_when_calibrated() -> None:
    for stats, kind in [
        (agent(50, 1, lambda p: 0.5 * p), VerdictKind.INSUFFICIENT_DATA),
        (agent(4000, 2, lambda p: p), VerdictKind.CALIBRATED),
    ]:
        adj = adjust_policy(CURRENT, stats, PolicyTarget())
        assert isinstance(adj, PolicyAdjustment)
        assert adj.thresholds == CURRENT and not adj.changed
        assert adj.verdict_kind is kind and adj.kind is AdjustmentKind.NOT_ACTIONABLE
        assert adj.autonomy is None and adj.escalation is None and adj.ideal is None


def test_overconfident_agent_gets_a_higher_autonomy_threshold_one_step_at_a_time() -> None:
    stats = agent(5000, 3, lambda p: 0.8 * p)  # calibrated 0.7 needs raw 0.875
    adj = adjust_policy(CURRENT, stats, PolicyTarget())
    assert adj.verdict_kind is VerdictKind.OVERCONFIDENT and adj.changed
    assert adj.kind is AdjustmentKind.MOVED
    assert adj.verdict.observed_expected == pytest.approx(0.8, abs=0.03)
    assert adj.thresholds.autonomous_above == pytest.approx(0.8)  # max_step 0.1
    assert adj.ideal is not None and adj.ideal.autonomous_above == pytest.approx(0.875, abs=0.03)
    assert adj.thresholds.escalate_below == pytest.approx(0.375, abs=0.03)  # 0.3 / 0.8
    # the numbers the move rests on: from 0.70 to 0.80, towards ~0.875, for 70 % success
    autonomy = adj.autonomy
    assert autonomy is not None and autonomy.direction is ThresholdDirection.RAISED
    assert (autonomy.before, autonomy.after, autonomy.success_rate) == (0.7, 0.8, 0.7)
    assert autonomy.towards == pytest.approx(0.875, abs=0.03) and not autonomy.reached
    escalation = adj.escalation
    assert escalation is not None and escalation.direction is ThresholdDirection.RAISED
    assert escalation.reached and escalation.success_rate == 0.3
    again = adjust_policy(adj.thresholds, stats, PolicyTarget())
    assert again.thresholds.autonomous_above == pytest.approx(0.875, abs=0.03)


def test_underconfident_agent_gets_lower_thresholds() -> None:
    stats = agent(5000, 4, lambda p: np.minimum(1.0, 1.25 * p))
    adj = adjust_policy(CURRENT, stats, PolicyTarget(max_step=0.5))
    assert adj.verdict_kind is VerdictKind.UNDERCONFIDENT
    assert adj.thresholds.autonomous_above == pytest.approx(0.56, abs=0.03)
    assert adj.thresholds.escalate_below == pytest.approx(0.24, abs=0.03)
    assert adj.autonomy is not None and adj.autonomy.direction is ThresholdDirection.LOWERED
    assert adj.autonomy.reached  # max_step 0.5 is enough to get there at once


def test_bounds_hysteresis_and_ordering() -> None:
    stats = agent(5000, 5, lambda p: 0.5 * p)  # 0.7 success is never reached
    verdict = assess(stats)
    adj = adjust_policy(CURRENT, stats, PolicyTarget(max_step=1.0, max_threshold=0.95))
    assert adj.thresholds.autonomous_above == 0.95  # unreachable target: the upper bound
    assert adj.thresholds.escalate_below <= adj.thresholds.autonomous_above
    # a map asking for a tiny move: within hysteresis, nothing moves
    near = RecalibrationMap("isotonic", xs=(0.0, 1.0), ys=(0.0, 0.99))
    small = adjust_policy(CURRENT, stats, PolicyTarget(), verdict=verdict, recalibration=near)
    assert not small.changed and small.thresholds == CURRENT
    assert small.kind is AdjustmentKind.WITHIN_HYSTERESIS
    assert small.autonomy is not None and small.autonomy.direction is ThresholdDirection.KEPT
    # escalation can never pass autonomy
    crossing = RecalibrationMap("isotonic", xs=(0.0, 0.5, 0.6, 1.0), ys=(0.0, 0.29, 0.9, 1.0))
    tight = PolicyThresholds(escalate_below=0.45, autonomous_above=0.5)
    adj = adjust_policy(
        tight, stats, PolicyTarget(max_step=1.0), verdict=verdict, recalibration=crossing
    )
    assert adj.thresholds.escalate_below <= adj.thresholds.autonomous_above
    low = PolicyTarget(min_threshold=0.2, max_step=1.0)
    generous = RecalibrationMap("isotonic", xs=(0.0, 1.0), ys=(0.9, 1.0))
    adj = adjust_policy(CURRENT, stats, low, verdict=verdict, recalibration=generous)
    assert adj.thresholds == PolicyThresholds(0.2, 0.2)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: PolicyThresholds(0.8, 0.7), "escalate_below must not exceed"),
        (lambda: PolicyThresholds(-0.1, 0.7), "escalate_below must be"),
        (lambda: PolicyThresholds(0.1, float("nan")), "autonomous_above must be"),
        (lambda: PolicyTarget(autonomous_min_success=0.2), "escalate_max_success must not"),
        (lambda: PolicyTarget(max_step=0.0), "max_step"),
        (lambda: PolicyTarget(min_threshold=0.9, max_threshold=0.5), "min_threshold"),
        (lambda: PolicyTarget(hysteresis=2.0), "hysteresis"),
    ],
)
def test_invalid_policies_are_rejected(factory, message) -> None:
    with pytest.raises(ValueError, match=message):
        factory()


def test_threshold_move_direction_and_reach() -> None:
    assert ThresholdMove(0.5, 0.5, 0.51, 0.7).direction is ThresholdDirection.KEPT
    assert ThresholdMove(0.5, 0.6, 0.6, 0.7).reached
    assert not ThresholdMove(0.5, 0.4, 0.2, 0.3).reached
    assert ThresholdMove(0.5, 0.4, 0.2, 0.3).direction is ThresholdDirection.LOWERED
