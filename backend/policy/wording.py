"""The audit trail's words: the reason each policy change records, written from the numbers
``analytics_engine.policy.adjust_policy`` returns (the engine returns no prose)."""

from __future__ import annotations

from analytics_engine.policy import (
    AdjustmentKind,
    PolicyAdjustment,
    ThresholdDirection,
    ThresholdMove,
)
from analytics_engine.verdict import VerdictKind

INITIAL_REASON = "initial policy (defaults)"


def _threshold(name: str, move: ThresholdMove, purpose: str) -> str:
    if move.direction is ThresholdDirection.KEPT:
        return f"{name} threshold stays at {move.before:.2f}"
    verb = "raising" if move.direction is ThresholdDirection.RAISED else "lowering"
    limited = "" if move.reached else f" (towards {move.towards:.2f}, one step at a time)"
    return (
        f"{verb} the {name} threshold from {move.before:.2f} to {move.after:.2f}{limited} {purpose}"
    )


def adjustment_reason(adjustment: PolicyAdjustment, *, action_type: str, agent_id: int) -> str:
    """One sentence for an automatic adjustment of agent ``agent_id``'s ``action_type`` policy,
    e.g. "Escalation actions of agent 7 are overconfident (O/E 0.47, z=-9.8, n=160): raising the
    autonomy threshold from 0.75 to 0.85 (towards 0.99, one step at a time) so autonomous actions
    keep ≥70% success; ..."."""
    verdict = adjustment.verdict
    if adjustment.kind is AdjustmentKind.NOT_ACTIONABLE:
        return f"No change: {verdict.reason}"
    subject = f"{action_type.replace('_', ' ').capitalize()} actions of agent {agent_id}"
    if verdict.kind in (VerdictKind.OVERCONFIDENT, VerdictKind.UNDERCONFIDENT):
        evidence = f"O/E {verdict.observed_expected:.2f}, z={verdict.oe_z:.1f}, n={verdict.n:g}"
    else:
        evidence = (
            f"Spiegelhalter z={verdict.z:.1f}, debiased error {verdict.debiased_error:.3f}, "
            f"n={verdict.n:g}"
        )
    if adjustment.kind is AdjustmentKind.MOVED:
        autonomy, escalation = adjustment.autonomy, adjustment.escalation
        assert autonomy is not None and escalation is not None  # set whenever a move was weighed
        action = "; ".join(
            (
                _threshold(
                    "autonomy",
                    autonomy,
                    f"so autonomous actions keep ≥{autonomy.success_rate:.0%} success",
                ),
                _threshold(
                    "escalation",
                    escalation,
                    f"so actions under {escalation.success_rate:.0%} likely success go to a human",
                ),
            )
        )
    else:
        action = "thresholds already meet the targets (within hysteresis); no change"
    return f"{subject} are {verdict.kind.value} ({evidence}): {action}."


def freeze_reason(*, frozen: bool, why: str) -> str:
    """A person pinned (or released) a policy, saying why."""
    return f"{'frozen' if frozen else 'unfrozen'} by a person: {why}"


def rollback_reason(*, version: int, why: str) -> str:
    """A person restored an earlier version's thresholds (``why`` may be empty)."""
    note = f": {why}" if why else ""
    return f"rolled back to version {version} by a person{note}"
