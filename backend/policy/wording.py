"""The audit trail's words: the reason each policy change records, written from the numbers
``analytics_engine.policy.follow_evidence`` returns (the engine returns no prose)."""

from __future__ import annotations

from analytics_engine.policy import PolicyStep, PolicyTarget
from analytics_engine.policy_band import BandMove

INITIAL_REASON = "initial policy (defaults)"


def _threshold(name: str, moves: tuple[BandMove, ...], rate: float, target: PolicyTarget) -> str:
    first, last = moves[0], moves[-1]
    low, high = rate - target.margin, rate + target.margin
    side = "below" if first.direction == "raise" else "above"
    verb = "raising" if last.after > first.before else "lowering"
    if last.after == first.before:
        verb = "moving"
    path = " → ".join(f"{m.after:.2f}" for m in moves)
    purpose = (
        f"so actions under {rate:.0%} likely success go to a human"
        if name == "escalation"
        else f"so autonomous actions keep ≥{rate:.0%} success"
    )
    return (
        f"{verb} the {name} threshold from {first.before:.2f} to {last.after:.2f}"
        f"{f' ({first.before:.2f} → {path})' if len(moves) > 1 else ''} {purpose}: "
        f"near {first.before:.2f} the success rate ran {side} the band {low:.0%}–{high:.0%} "
        f"(e-value {first.e_value:,.0f} ≥ {1 / target.alpha:,.0f} on {first.seen:,} outcomes)"
    )


def evidence_reason(
    step: PolicyStep, target: PolicyTarget, *, action_type: str, agent_id: int
) -> str:
    """One sentence for a move of agent ``agent_id``'s ``action_type`` policy, e.g.
    "Escalation actions of agent 7: raising the autonomy threshold from 0.75 to 0.80 so
    autonomous actions keep ≥70% success: near 0.75 the success rate ran below the band 65%–75%
    (e-value 104 ≥ 100 on 212 outcomes)."."""
    subject = f"{action_type.replace('_', ' ').capitalize()} actions of agent {agent_id}"
    parts = [
        _threshold(name, moves, rate, target)
        for name, moves, rate in (
            ("autonomy", step.autonomy, target.autonomous_min_success),
            ("escalation", step.escalation, target.escalate_max_success),
        )
        if moves
    ]
    return f"{subject}: {'; '.join(parts) or 'no change'}."


def freeze_reason(*, frozen: bool, why: str) -> str:
    """A person pinned (or released) a policy, saying why."""
    return f"{'frozen' if frozen else 'unfrozen'} by a person: {why}"


def rollback_reason(*, version: int, why: str) -> str:
    """A person restored an earlier version's thresholds (``why`` may be empty)."""
    note = f": {why}" if why else ""
    return f"rolled back to version {version} by a person{note}"
