"""follow_evidence(): each threshold moved by its dead band, in order, restarted when something
else moved it, never past the other threshold."""

import doctest
import importlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_engine.policy import (
    PolicyEvidence,
    PolicyTarget,
    PolicyThresholds,
    follow_evidence,
)
from analytics_engine.policy_band import BandState, policy_move

START = PolicyThresholds(escalate_below=0.3, autonomous_above=0.7)
TARGET = PolicyTarget()


def outcomes(seed: int, n: int, rate) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return p, (rng.random(n) < rate(p)).astype(float)


def test_doctests() -> None:
    result = doctest.testmod(importlib.import_module("analytics_engine.policy"))
    assert result.attempted > 0 and result.failed == 0


def test_calibrated_agents_keep_their_policy() -> None:
    for seed in range(30):
        step = follow_evidence(START, None, *outcomes(seed, 5000, lambda p: p), TARGET)
        assert not step.changed and step.escalation == () and step.autonomy == ()


def test_each_threshold_is_its_own_dead_band() -> None:
    # The same outcomes through follow_evidence and through policy_move with the rules it
    # derives: the thresholds, the moves and the evidence agree.
    p, y = outcomes(5, 6000, lambda p: 0.6 * p)
    step = follow_evidence(START, None, p, y, TARGET)
    escalation_rule, autonomy_rule = TARGET.rules(START)
    escalation, up = policy_move(BandState(0.3), p, y, rule=escalation_rule)
    autonomy, moves = policy_move(BandState(0.7), p, y, rule=autonomy_rule)
    assert step.evidence == PolicyEvidence(escalation, autonomy)
    assert (step.escalation, step.autonomy) == (up, moves)
    assert step.thresholds == PolicyThresholds(escalation.threshold, autonomy.threshold)
    assert step.changed and all(m.direction == "raise" for m in moves)
    assert autonomy_rule.lower_bound == 0.3 and escalation_rule.upper_bound == 0.7


def test_underconfident_agents_get_lower_thresholds() -> None:
    p, y = outcomes(6, 8000, lambda p: np.minimum(1.0, 0.2 + p))
    step = follow_evidence(START, None, p, y, TARGET)
    assert step.thresholds.escalate_below < 0.3 and step.thresholds.autonomous_above < 0.7
    assert {m.direction for m in step.escalation + step.autonomy} == {"lower"}


def test_a_threshold_moved_by_a_person_starts_its_evidence_afresh() -> None:
    p, y = outcomes(7, 300, lambda p: 0.6 * p)
    gathered = follow_evidence(START, None, p, y, TARGET).evidence
    assert gathered.escalation.seen > 0 and gathered.autonomy.seen > 0
    moved = PolicyThresholds(0.2, gathered.autonomy.threshold)
    kept = gathered.following(moved)
    assert kept.escalation == BandState(0.2)
    assert kept.autonomy == gathered.autonomy


def test_the_thresholds_meet_rather_than_cross() -> None:
    # Success far below target at the escalation threshold and far above at the autonomy one,
    # thresholds close together: both move towards the other until they meet.
    close = PolicyThresholds(0.5, 0.6)
    target = PolicyTarget(escalate_max_success=0.6, autonomous_min_success=0.65, width=0.05)
    p = np.tile([0.5, 0.6], 2000)
    y = np.tile([0.0, 1.0], 2000)
    step = follow_evidence(close, None, p, y, target)
    assert step.thresholds.escalate_below <= step.thresholds.autonomous_above
    assert step.escalation and step.autonomy


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 1999))
def test_a_batch_equals_its_halves(seed: int, cut: int) -> None:
    p, y = outcomes(seed, 2000, lambda p: 0.5 * p)
    whole = follow_evidence(START, None, p, y, TARGET)
    first = follow_evidence(START, None, p[:cut], y[:cut], TARGET)
    second = follow_evidence(first.thresholds, first.evidence, p[cut:], y[cut:], TARGET)
    assert second.thresholds == whole.thresholds
    assert [m.after for m in first.autonomy + second.autonomy] == [m.after for m in whole.autonomy]


def test_evidence_round_trips_through_json() -> None:
    evidence = follow_evidence(START, None, *outcomes(8, 500, lambda p: p), TARGET).evidence
    assert PolicyEvidence.from_dict(json.loads(json.dumps(evidence.to_dict()))) == evidence


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: PolicyThresholds(0.8, 0.7), "escalate_below must not exceed"),
        (lambda: PolicyThresholds(-0.1, 0.7), "escalate_below must be"),
        (lambda: PolicyThresholds(0.1, float("nan")), "autonomous_above must be"),
        (lambda: PolicyTarget(autonomous_min_success=0.2), "escalate_max_success must not"),
        (lambda: PolicyTarget(step=0.0), "step"),
        (lambda: PolicyTarget(min_threshold=0.9, max_threshold=0.5), "min_threshold"),
        (lambda: PolicyTarget(margin=2.0), "margin"),
        (lambda: PolicyTarget(escalate_max_success=0.02, margin=0.05), "target ± margin"),
        (lambda: PolicyTarget(escalate_max_success=0.1, margin=0.05), "width"),
        (lambda: PolicyTarget(alpha=0.0), "alpha"),
    ],
)
def test_invalid_policies_are_rejected(factory, message) -> None:
    with pytest.raises(ValueError, match=message):
        factory()
