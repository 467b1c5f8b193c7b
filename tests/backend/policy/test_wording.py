"""The audit trail's words: each reason, worded from the engine's numbers (hand-built moves, so
each sentence below is checked against numbers written out here)."""

from __future__ import annotations

from analytics_engine.policy import PolicyEvidence, PolicyStep, PolicyTarget, PolicyThresholds
from analytics_engine.policy_band import BandMove, Direction
from backend.policy.wording import (
    INITIAL_REASON,
    evidence_reason,
    freeze_reason,
    rollback_reason,
)

START = PolicyThresholds(0.3, 0.7)


def step(escalation: tuple[BandMove, ...], autonomy: tuple[BandMove, ...]) -> PolicyStep:
    after = PolicyThresholds(
        escalation[-1].after if escalation else START.escalate_below,
        autonomy[-1].after if autonomy else START.autonomous_above,
    )
    return PolicyStep(START, after, PolicyEvidence.start(after), escalation, autonomy)


def move(direction: Direction, before: float, after: float, e_value: float, seen: int) -> BandMove:
    return BandMove(direction, before, after, 1, e_value, seen, reversal=False)


def test_one_move_says_which_way_why_and_on_what() -> None:
    raised = step((), (move("raise", 0.7, 0.75, 104.2, 212),))
    assert evidence_reason(raised, PolicyTarget(), action_type="escalation", agent_id=7) == (
        "Escalation actions of agent 7: raising the autonomy threshold from 0.70 to 0.75 so "
        "autonomous actions keep ≥70% success: near 0.70 the success rate ran below the band "
        "65%–75% (e-value 104 ≥ 100 on 212 outcomes)."
    )


def test_several_moves_and_both_thresholds() -> None:
    both = step(
        (move("lower", 0.3, 0.25, 1530.0, 1204), move("lower", 0.25, 0.2, 101.0, 388)),
        (move("raise", 0.7, 0.75, 2500.0, 90),),
    )
    target = PolicyTarget(escalate_max_success=0.3, alpha=0.001)
    assert evidence_reason(both, target, action_type="stage_progression", agent_id=12) == (
        "Stage progression actions of agent 12: raising the autonomy threshold from 0.70 to 0.75 "
        "so autonomous actions keep ≥70% success: near 0.70 the success rate ran below the band "
        "65%–75% (e-value 2,500 ≥ 1,000 on 90 outcomes); lowering the escalation threshold from "
        "0.30 to 0.20 (0.30 → 0.25 → 0.20) so actions under 30% likely success go to a human: "
        "near 0.30 the success rate ran above the band 25%–35% (e-value 1,530 ≥ 1,000 on 1,204 "
        "outcomes)."
    )


def test_reasons_of_people_and_of_the_first_version() -> None:
    assert INITIAL_REASON == "initial policy (defaults)"
    assert freeze_reason(frozen=True, why="pilot") == "frozen by a person: pilot"
    assert freeze_reason(frozen=False, why="done") == "unfrozen by a person: done"
    assert rollback_reason(version=1, why="too strict") == (
        "rolled back to version 1 by a person: too strict"
    )
    assert rollback_reason(version=4, why="") == "rolled back to version 4 by a person"
