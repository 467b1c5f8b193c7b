"""The audit trail reads as it always did: each reason, worded from the engine's numbers, equals
the sentence the engine used to write itself (the expected strings were produced by it)."""

from __future__ import annotations

import numpy as np
import pytest

from analytics_engine.calibration import CalibrationStats
from analytics_engine.policy import (
    AdjustmentKind,
    PolicyAdjustment,
    PolicyTarget,
    PolicyThresholds,
    ThresholdMove,
    adjust_policy,
)
from analytics_engine.recalibration import RecalibrationMap
from analytics_engine.verdict import assess
from backend.policy.wording import (
    INITIAL_REASON,
    adjustment_reason,
    freeze_reason,
    rollback_reason,
)

CURRENT = PolicyThresholds(0.3, 0.7)
NEAR = RecalibrationMap("isotonic", xs=(0.0, 1.0), ys=(0.0, 0.99))


def agent(n: int, seed: int, rate) -> CalibrationStats:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.99, n)
    return CalibrationStats.from_arrays(p, (rng.random(n) < rate(p)).astype(float))


CASES = {
    "step-limited rise": (
        agent(5000, 3, lambda p: 0.8 * p),
        PolicyTarget(),
        None,
        ("escalation", 7),
        "Escalation actions of agent 7 are overconfident (O/E 0.81, z=-16.8, n=5000): raising "
        "the autonomy threshold from 0.70 to 0.80 (towards 0.85, one step at a time) so "
        "autonomous actions keep ≥70% success; raising the escalation threshold from 0.30 to 0.36 "
        "so actions under 30% likely success go to a human.",
    ),
    "both lowered": (
        agent(5000, 4, lambda p: np.minimum(1.0, 1.25 * p)),
        PolicyTarget(max_step=0.5),
        None,
        ("stage_progression", 12),
        "Stage progression actions of agent 12 are underconfident (O/E 1.20, z=18.0, n=5000): "
        "lowering the autonomy threshold from 0.70 to 0.58 so autonomous actions keep ≥70% "
        "success; lowering the escalation threshold from 0.30 to 0.22 so actions under 30% likely "
        "success go to a human.",
    ),
    "within hysteresis": (
        agent(5000, 5, lambda p: 0.5 * p),
        PolicyTarget(),
        NEAR,
        ("email", 3),
        "Email actions of agent 3 are overconfident (O/E 0.50, z=-43.6, n=5000): thresholds "
        "already meet the targets (within hysteresis); no change.",
    ),
    "not enough outcomes": (
        agent(50, 1, lambda p: 0.5 * p),
        PolicyTarget(),
        None,
        ("meeting", 4),
        "No change: Only 50 outcomes; at least 100 are needed before judging calibration.",
    ),
    "wrong shape": (
        agent(5000, 6, lambda p: np.clip(0.5 + 0.4 * (p - 0.5), 0, 1)),
        PolicyTarget(),
        None,
        ("follow_up", 9),
        "Follow up actions of agent 9 are miscalibrated (Spiegelhalter z=35.6, debiased error "
        "0.171, n=5000): raising the autonomy threshold from 0.70 to 0.80 (towards 0.99, one step "
        "at a time) so autonomous actions keep ≥70% success; lowering the escalation threshold "
        "from 0.30 to 0.20 (towards 0.05, one step at a time) so actions under 30% likely success "
        "go to a human.",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_adjustment_reasons_read_as_before(name: str) -> None:
    stats, target, recalibration, (action_type, agent_id), expected = CASES[name]
    adjustment = adjust_policy(
        CURRENT, stats, target, verdict=assess(stats), recalibration=recalibration
    )
    assert adjustment_reason(adjustment, action_type=action_type, agent_id=agent_id) == expected


def test_a_threshold_that_stays_says_so() -> None:
    stats = agent(5000, 4, lambda p: np.minimum(1.0, 1.25 * p))
    verdict = assess(stats)
    adjustment = PolicyAdjustment(
        thresholds=PolicyThresholds(0.3, 0.61),
        previous=CURRENT,
        changed=True,
        kind=AdjustmentKind.MOVED,
        verdict_kind=verdict.kind,
        verdict=verdict,
        autonomy=ThresholdMove(0.7, 0.61, 0.61, 0.6),
        escalation=ThresholdMove(0.3, 0.3, 0.3, 0.3),
    )
    assert adjustment_reason(adjustment, action_type="meeting", agent_id=2) == (
        "Meeting actions of agent 2 are underconfident (O/E 1.20, z=18.0, n=5000): lowering the "
        "autonomy threshold from 0.70 to 0.61 so autonomous actions keep ≥60% success; "
        "escalation threshold stays at 0.30."
    )


def test_reasons_of_people_and_of_the_first_version() -> None:
    assert INITIAL_REASON == "initial policy (defaults)"
    assert freeze_reason(frozen=True, why="pilot") == "frozen by a person: pilot"
    assert freeze_reason(frozen=False, why="done") == "unfrozen by a person: done"
    assert rollback_reason(version=1, why="too strict") == (
        "rolled back to version 1 by a person: too strict"
    )
    assert rollback_reason(version=4, why="") == "rolled back to version 4 by a person"
