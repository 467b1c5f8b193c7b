"""Behaviour policy: where the agent escalates to a human and where it acts on its own, in raw
confidence units, moved through the recalibration map when calibration says so."""

from __future__ import annotations

import math
from dataclasses import dataclass

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


@dataclass(frozen=True)
class PolicyAdjustment:
    """Result of ``adjust_policy``.

    - ``thresholds``: the thresholds to use from now on (``previous`` if unchanged).
    - ``changed``: whether any threshold moved.
    - ``ideal``: thresholds the targets call for before bounds, step limit and hysteresis
      (``None`` when no adjustment was considered).
    - ``verdict_kind`` and ``verdict``: the calibration verdict behind the decision.
    - ``reason``: one human-readable sentence, for the audit trail.
    """

    thresholds: PolicyThresholds
    previous: PolicyThresholds
    changed: bool
    reason: str
    verdict_kind: VerdictKind
    verdict: Verdict
    ideal: PolicyThresholds | None = None


def _move(current: float, ideal: float, target: PolicyTarget) -> float:
    ideal = min(max(ideal, target.min_threshold), target.max_threshold)
    step = min(max(ideal - current, -target.max_step), target.max_step)
    if abs(step) < target.hysteresis:
        return current
    return round(current + step, 6)


def _describe(name: str, before: float, after: float, purpose: str, ideal: float) -> str:
    if after == before:
        return f"{name} threshold stays at {before:.2f}"
    verb = "raising" if after > before else "lowering"
    limited = "" if abs(after - ideal) < 1e-5 else f" (towards {ideal:.2f}, one step at a time)"
    return f"{verb} the {name} threshold from {before:.2f} to {after:.2f}{limited} {purpose}"


def adjust_policy(
    current: PolicyThresholds,
    stats: CalibrationStats,
    target: PolicyTarget,
    *,
    verdict: Verdict | None = None,
    recalibration: RecalibrationMap | None = None,
    subject: str = "Actions",
) -> PolicyAdjustment:
    """New thresholds so that calibrated success meets ``target``.

    Each threshold is the smallest raw confidence whose *calibrated* confidence reaches its
    target rate (``RecalibrationMap.inverse``; the upper bound when no confidence reaches it),
    clipped to the bounds, moved at most ``max_step`` and not at all when the move is below
    ``hysteresis``; ``escalate_below <= autonomous_above`` always. Nothing moves while the
    verdict is ``insufficient_data`` or ``calibrated``.

    >>> stats = CalibrationStats.from_arrays([0.8] * 600, [1.0] * 360 + [0.0] * 240)
    >>> adj = adjust_policy(PolicyThresholds(0.3, 0.7), stats, PolicyTarget())
    >>> adj.changed, adj.thresholds.autonomous_above
    (True, 0.8)
    """
    if not isinstance(current, PolicyThresholds):
        raise ValueError("current must be PolicyThresholds")
    if not isinstance(target, PolicyTarget):
        raise ValueError("target must be PolicyTarget")
    verdict = assess(stats) if verdict is None else verdict
    if not verdict.is_actionable:
        return PolicyAdjustment(
            current, current, False, f"No change: {verdict.reason}", verdict.kind, verdict
        )
    recal = fit_recalibration(stats) if recalibration is None else recalibration

    def ideal_for(rate: float) -> float:
        raw = recal.inverse(rate)
        return target.max_threshold if math.isnan(raw) else raw

    ideal_auto = ideal_for(target.autonomous_min_success)
    ideal_esc = ideal_for(target.escalate_max_success)
    auto = _move(current.autonomous_above, ideal_auto, target)
    esc = min(_move(current.escalate_below, ideal_esc, target), auto)
    new = PolicyThresholds(escalate_below=esc, autonomous_above=auto)
    changed = new != current
    evidence = (
        f"O/E {verdict.observed_expected:.2f}, z={verdict.oe_z:.1f}, n={verdict.n:g}"
        if verdict.kind in (VerdictKind.OVERCONFIDENT, VerdictKind.UNDERCONFIDENT)
        else f"Spiegelhalter z={verdict.z:.1f}, debiased error {verdict.debiased_error:.3f}, "
        f"n={verdict.n:g}"
    )
    if changed:
        auto_text = _describe(
            "autonomy",
            current.autonomous_above,
            auto,
            f"so autonomous actions keep ≥{target.autonomous_min_success:.0%} success",
            min(max(ideal_auto, target.min_threshold), target.max_threshold),
        )
        esc_text = _describe(
            "escalation",
            current.escalate_below,
            esc,
            f"so actions under {target.escalate_max_success:.0%} likely success go to a human",
            min(max(ideal_esc, target.min_threshold), target.max_threshold),
        )
        action = f"{auto_text}; {esc_text}"
    else:
        action = "thresholds already meet the targets (within hysteresis); no change"
    reason = f"{subject} are {verdict.kind.value} ({evidence}): {action}."
    ideal = PolicyThresholds(
        escalate_below=min(max(ideal_esc, 0.0), 1.0),
        autonomous_above=max(min(max(ideal_auto, 0.0), 1.0), min(max(ideal_esc, 0.0), 1.0)),
    )
    return PolicyAdjustment(new, current, changed, reason, verdict.kind, verdict, ideal)
