"""Closed loop on a simulated agent: outcomes -> statistics -> verdict -> recalibration, and
outcomes -> policy (each threshold's dead band), for one overconfident and one calibrated
action type (fixed seeds)."""

import numpy as np

from analytics_engine.calibration import CalibrationStats, debiased_calibration_error
from analytics_engine.policy import PolicyTarget, PolicyThresholds, follow_evidence
from analytics_engine.recalibration import fit_recalibration
from analytics_engine.verdict import VerdictKind, assess

TRUE_RATE = {"email": lambda p: 0.7 * p, "meeting": lambda p: p}  # email is overconfident


def test_closed_loop_corrects_only_the_miscalibrated_action_type() -> None:
    rng = np.random.default_rng(11)
    target = PolicyTarget(autonomous_min_success=0.6, escalate_max_success=0.3)
    stats = {kind: CalibrationStats.empty() for kind in TRUE_RATE}
    policy = dict.fromkeys(TRUE_RATE, PolicyThresholds(escalate_below=0.3, autonomous_above=0.6))
    evidence = dict.fromkeys(TRUE_RATE)
    moves = dict.fromkeys(TRUE_RATE, 0)
    for _ in range(80):  # 80 batches of 100 outcomes per action type
        for kind, rate in TRUE_RATE.items():
            p = rng.beta(4.0, 2.0, 100)
            y = (rng.random(100) < rate(p)).astype(float)
            for pi, yi in zip(p.tolist(), y.tolist(), strict=True):
                stats[kind].add(pi, yi)  # the hot path: one outcome at a time
            step = follow_evidence(policy[kind], evidence[kind], p, y, target)
            moves[kind] += len(step.escalation) + len(step.autonomy)
            policy[kind], evidence[kind] = step.thresholds, step.evidence

    assert assess(stats["email"]).kind is VerdictKind.OVERCONFIDENT
    assert assess(stats["meeting"]).kind is VerdictKind.CALIBRATED
    assert moves["meeting"] == 0
    assert policy["meeting"] == PolicyThresholds(0.3, 0.6)
    assert moves["email"] >= 2
    # 60 % success needs raw p ≈ 0.6 / 0.7 ≈ 0.86, 30 % p ≈ 0.43. Both thresholds rose towards
    # them, and stop at most one step short of the dead band (±0.05) around each target rate:
    # the success rate there, 0.7 · threshold, is within 0.7 · step of the band's lower edge.
    email = policy["email"]
    assert 0.6 < email.autonomous_above < 0.857 and 0.3 < email.escalate_below < 0.429
    assert 0.7 * email.autonomous_above >= 0.55 - 0.7 * target.step
    assert 0.7 * email.escalate_below >= 0.25 - 0.7 * target.step

    # Recalibrated confidence on fresh outcomes has a much lower calibration error.
    recal = fit_recalibration(stats["email"])
    assert recal.method == "isotonic"
    p = rng.beta(4.0, 2.0, 20_000)
    y = (rng.random(20_000) < TRUE_RATE["email"](p)).astype(float)
    raw_error = debiased_calibration_error(CalibrationStats.from_arrays(p, y)).error
    fixed = CalibrationStats.from_arrays(recal.apply(p), y)
    fixed_error = debiased_calibration_error(fixed).error
    assert raw_error > 0.15
    assert fixed_error < raw_error / 5
    assert assess(fixed).kind is VerdictKind.CALIBRATED
