"""Behaviour policy: where the agent escalates to a human and where it acts on its own, in raw
confidence units, moved through the recalibration map when calibration says so."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from analytics_engine.calibration_stats import CalibrationStats
from analytics_engine.recalibration import RecalibrationMap, fit_recalibration
from analytics_engine.verdict import Verdict, VerdictKind, assess


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
    """What the thresholds must achieve, and how fast they may move.

    - ``autonomous_min_success``: calibrated success rate autonomous actions must reach.
    - ``escalate_max_success``: below this calibrated success rate, escalate to a human.
    - ``min_threshold``, ``max_threshold``: bounds of both thresholds.
    - ``max_step``: largest move of a threshold per adjustment.
    - ``hysteresis``: moves smaller than this are not made (no flapping).
    """

    autonomous_min_success: float = 0.7
    escalate_max_success: float = 0.3
    min_threshold: float = 0.05
    max_threshold: float = 0.99
    max_step: float = 0.1
    hysteresis: float = 0.02

    def __post_init__(self) -> None:
        for name in (
            "autonomous_min_success",
            "escalate_max_success",
            "min_threshold",
            "max_threshold",
            "max_step",
            "hysteresis",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        if self.escalate_max_success > self.autonomous_min_success:
            raise ValueError("escalate_max_success must not exceed autonomous_min_success")
        if self.min_threshold > self.max_threshold:
            raise ValueError("min_threshold must not exceed max_threshold")
        if self.max_step <= 0:
            raise ValueError("max_step must be positive")


class AdjustmentKind(StrEnum):
    """What ``adjust_policy`` decided, and why."""

    NOT_ACTIONABLE = "not_actionable"  # the verdict does not justify a move (see ``verdict``)
    WITHIN_HYSTERESIS = "within_hysteresis"  # the targets call for moves below ``hysteresis``
    MOVED = "moved"  # at least one threshold moved


class ThresholdDirection(StrEnum):
    RAISED = "raised"
    LOWERED = "lowered"
    KEPT = "kept"


@dataclass(frozen=True)
class ThresholdMove:
    """One threshold's move: from ``before`` to ``after``, heading for ``towards`` (the raw
    confidence whose calibrated success is ``success_rate``, clipped to the target's bounds)."""

    before: float
    after: float
    towards: float
    success_rate: float

    @property
    def direction(self) -> ThresholdDirection:
        if self.after > self.before:
            return ThresholdDirection.RAISED
        if self.after < self.before:
            return ThresholdDirection.LOWERED
        return ThresholdDirection.KEPT

    @property
    def reached(self) -> bool:
        """False when the step limit (or the other threshold) stopped it short of ``towards``."""
        return abs(self.after - self.towards) < 1e-5


@dataclass(frozen=True)
class PolicyAdjustment:
    """Result of ``adjust_policy``.

    - ``thresholds``: the thresholds to use from now on (``previous`` if unchanged).
    - ``changed``: whether any threshold moved; ``kind`` says why or why not.
    - ``verdict_kind`` and ``verdict``: the calibration verdict behind the decision.
    - ``autonomy`` and ``escalation``: each threshold's move with the numbers it rests on
      (``None`` when no adjustment was considered, i.e. ``kind`` is ``NOT_ACTIONABLE``).
    - ``ideal``: thresholds the targets call for before bounds, step limit and hysteresis
      (``None`` when no adjustment was considered).
    """

    thresholds: PolicyThresholds
    previous: PolicyThresholds
    changed: bool
    kind: AdjustmentKind
    verdict_kind: VerdictKind
    verdict: Verdict
    autonomy: ThresholdMove | None = None
    escalation: ThresholdMove | None = None
    ideal: PolicyThresholds | None = None


def _move(current: float, ideal: float, target: PolicyTarget) -> float:
    ideal = min(max(ideal, target.min_threshold), target.max_threshold)
    step = min(max(ideal - current, -target.max_step), target.max_step)
    if abs(step) < target.hysteresis:
        return current
    return round(current + step, 6)


def adjust_policy(
    current: PolicyThresholds,
    stats: CalibrationStats,
    target: PolicyTarget,
    *,
    verdict: Verdict | None = None,
    recalibration: RecalibrationMap | None = None,
) -> PolicyAdjustment:
    """New thresholds so that calibrated success meets ``target``.

    Each threshold is the smallest raw confidence whose *calibrated* confidence reaches its
    target rate (``RecalibrationMap.inverse``; the upper bound when no confidence reaches it),
    clipped to the bounds, moved at most ``max_step`` and not at all when the move is below
    ``hysteresis``; ``escalate_below <= autonomous_above`` always. Nothing moves while the
    verdict is ``insufficient_data`` or ``calibrated``.

    >>> stats = CalibrationStats.from_arrays([0.8] * 600, [1.0] * 360 + [0.0] * 240)
    >>> adj = adjust_policy(PolicyThresholds(0.3, 0.7), stats, PolicyTarget())
    >>> adj.kind.value, adj.thresholds.autonomous_above, adj.autonomy.direction.value
    ('moved', 0.8, 'raised')
    """
    if not isinstance(current, PolicyThresholds):
        raise ValueError("current must be PolicyThresholds")
    if not isinstance(target, PolicyTarget):
        raise ValueError("target must be PolicyTarget")
    verdict = assess(stats) if verdict is None else verdict
    if not verdict.is_actionable:
        return PolicyAdjustment(
            current, current, False, AdjustmentKind.NOT_ACTIONABLE, verdict.kind, verdict
        )
    recal = fit_recalibration(stats) if recalibration is None else recalibration

    def ideal_for(rate: float) -> float:
        raw = recal.inverse(rate)
        return target.max_threshold if math.isnan(raw) else raw

    def bounded(value: float) -> float:
        return min(max(value, target.min_threshold), target.max_threshold)

    ideal_auto = ideal_for(target.autonomous_min_success)
    ideal_esc = ideal_for(target.escalate_max_success)
    auto = _move(current.autonomous_above, ideal_auto, target)
    esc = min(_move(current.escalate_below, ideal_esc, target), auto)
    new = PolicyThresholds(escalate_below=esc, autonomous_above=auto)
    changed = new != current
    ideal = PolicyThresholds(
        escalate_below=min(max(ideal_esc, 0.0), 1.0),
        autonomous_above=max(min(max(ideal_auto, 0.0), 1.0), min(max(ideal_esc, 0.0), 1.0)),
    )
    return PolicyAdjustment(
        thresholds=new,
        previous=current,
        changed=changed,
        kind=AdjustmentKind.MOVED if changed else AdjustmentKind.WITHIN_HYSTERESIS,
        verdict_kind=verdict.kind,
        verdict=verdict,
        autonomy=ThresholdMove(
            current.autonomous_above, auto, bounded(ideal_auto), target.autonomous_min_success
        ),
        escalation=ThresholdMove(
            current.escalate_below, esc, bounded(ideal_esc), target.escalate_max_success
        ),
        ideal=ideal,
    )
