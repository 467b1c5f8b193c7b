"""Behaviour policy: where the agent escalates to a human and where it acts on its own, in raw
confidence units. Each threshold has its own dead band (``policy_band``): it moves only on
anytime-valid evidence that the success rate at the threshold is off its target, one step at a
time, and back only on evidence the other way of the same strength."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from numpy.typing import ArrayLike

from analytics_engine.policy_band import BandMove, BandRule, BandState, policy_move


@dataclass(frozen=True)
class PolicyThresholds:
    """Raw-confidence thresholds: escalate to a human when ``confidence < escalate_below``,
    act autonomously when ``confidence >= autonomous_above``, in between act with review."""

    escalate_below: float
    autonomous_above: float

    def __post_init__(self) -> None:
        for name in ("escalate_below", "autonomous_above"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        if self.escalate_below > self.autonomous_above:
            raise ValueError("escalate_below must not exceed autonomous_above")


@dataclass(frozen=True)
class PolicyTarget:
    """What the thresholds aim for, and on what evidence they move.

    - ``autonomous_min_success``: success rate wanted at the autonomy threshold;
    - ``escalate_max_success``: success rate at the escalation threshold (below it, a human);
    - ``min_threshold``, ``max_threshold``: bounds of both thresholds;
    - ``step``: one move of a threshold;
    - ``margin``: half-width of the dead band around each target rate: inside it nothing moves;
    - ``width``: outcomes within this much raw confidence of a threshold measure its rate;
    - ``alpha``: a move needs an e-value of ``1/alpha`` (its false-move probability, at any
      horizon).
    """

    autonomous_min_success: float = 0.7
    escalate_max_success: float = 0.3
    min_threshold: float = 0.05
    max_threshold: float = 0.99
    step: float = 0.05
    margin: float = 0.05
    width: float = 0.2
    alpha: float = 0.01

    def __post_init__(self) -> None:
        for name in (
            "autonomous_min_success",
            "escalate_max_success",
            "min_threshold",
            "max_threshold",
            "step",
            "margin",
            "width",
            "alpha",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        if self.escalate_max_success > self.autonomous_min_success:
            raise ValueError("escalate_max_success must not exceed autonomous_min_success")
        if self.min_threshold > self.max_threshold:
            raise ValueError("min_threshold must not exceed max_threshold")
        self.rules(PolicyThresholds(self.min_threshold, self.max_threshold))  # margin, width

    def rules(self, current: PolicyThresholds) -> tuple[BandRule, BandRule]:
        """The escalation and autonomy thresholds' dead bands; each stays on its side of the
        other's current value."""

        def bounded(value: float) -> float:
            return min(max(value, self.min_threshold), self.max_threshold)

        common = {"margin": self.margin, "width": self.width, "step": self.step}
        escalation = BandRule(
            target=self.escalate_max_success,
            alpha=self.alpha,
            lower_bound=self.min_threshold,
            upper_bound=bounded(current.autonomous_above),
            **common,
        )
        autonomy = BandRule(
            target=self.autonomous_min_success,
            alpha=self.alpha,
            lower_bound=bounded(current.escalate_below),
            upper_bound=self.max_threshold,
            **common,
        )
        return escalation, autonomy


@dataclass(frozen=True)
class PolicyEvidence:
    """The evidence each threshold has gathered since it last moved (a few floats each)."""

    escalation: BandState
    autonomy: BandState

    @classmethod
    def start(cls, thresholds: PolicyThresholds) -> PolicyEvidence:
        return cls(BandState(thresholds.escalate_below), BandState(thresholds.autonomous_above))

    def following(self, thresholds: PolicyThresholds) -> PolicyEvidence:
        """The evidence about ``thresholds``: a threshold moved by anything else (a person, a
        rollback) starts afresh where it now is; one that did not keeps its evidence."""
        escalation, autonomy = self.escalation, self.autonomy
        if escalation.threshold != thresholds.escalate_below:
            escalation = BandState(thresholds.escalate_below)
        if autonomy.threshold != thresholds.autonomous_above:
            autonomy = BandState(thresholds.autonomous_above)
        return PolicyEvidence(escalation, autonomy)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; ``from_dict`` inverts it exactly."""
        return {"escalation": self.escalation.to_dict(), "autonomy": self.autonomy.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyEvidence:
        return cls(BandState.from_dict(data["escalation"]), BandState.from_dict(data["autonomy"]))


@dataclass(frozen=True)
class PolicyStep:
    """What ``follow_evidence`` made of a batch of outcomes: the thresholds before and after,
    the evidence to keep, and each threshold's moves (usually none)."""

    previous: PolicyThresholds
    thresholds: PolicyThresholds
    evidence: PolicyEvidence
    escalation: tuple[BandMove, ...]
    autonomy: tuple[BandMove, ...]

    @property
    def changed(self) -> bool:
        return self.thresholds != self.previous


def follow_evidence(
    current: PolicyThresholds,
    evidence: PolicyEvidence | None,
    p: float | ArrayLike,
    y: float | ArrayLike,
    target: PolicyTarget,
) -> PolicyStep:
    """The thresholds after the outcomes ``y`` of raw confidences ``p``, in the order the
    actions were taken, each threshold moved by its dead band (``policy_band.policy_move``)
    towards the raw confidence where the success rate is its target: raised when the rate there
    is clearly below the target band (escalate more; act alone less), lowered when clearly above.
    ``evidence`` (None: none yet) follows ``current`` (``PolicyEvidence.following``).

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> p = rng.random(4000)
    >>> start = PolicyThresholds(0.3, 0.7)
    >>> steady = follow_evidence(start, None, p, rng.random(4000) < p, PolicyTarget())
    >>> steady.changed, steady.evidence.escalation.seen  # calibrated: nothing moves
    (False, 1611)
    >>> y = rng.random(4000) < 0.7 * p  # overconfident: 49 % success at 0.7
    >>> worse = follow_evidence(start, steady.evidence, p, y, PolicyTarget())
    >>> worse.thresholds, [m.direction for m in worse.autonomy]
    (PolicyThresholds(escalate_below=0.3, autonomous_above=0.85), ['raise', 'raise', 'raise'])
    """
    if not isinstance(current, PolicyThresholds):
        raise ValueError("current must be PolicyThresholds")
    if not isinstance(target, PolicyTarget):
        raise ValueError("target must be PolicyTarget")
    known = (evidence or PolicyEvidence.start(current)).following(current)
    escalation_rule, autonomy_rule = target.rules(current)
    escalation, escalation_moves = policy_move(known.escalation, p, y, rule=escalation_rule)
    autonomy, autonomy_moves = policy_move(known.autonomy, p, y, rule=autonomy_rule)
    if escalation.threshold > autonomy.threshold:  # both moved towards each other: meet
        escalation = replace(BandState(autonomy.threshold), last_move=escalation.last_move)
    return PolicyStep(
        previous=current,
        thresholds=PolicyThresholds(escalation.threshold, autonomy.threshold),
        evidence=PolicyEvidence(escalation, autonomy),
        escalation=escalation_moves,
        autonomy=autonomy_moves,
    )
