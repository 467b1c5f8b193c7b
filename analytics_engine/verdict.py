"""Miscalibration verdict of one scope's ``CalibrationStats``, safe to re-evaluate after
every outcome.

The rule (docs/calibration.md has the derivation and the measured false-alarm rates):

1. ``n < min_n`` -> ``insufficient_data``.
2. Calibration in the large: ``|z_OE| >= z_threshold`` with ``z_OE = (O - E) / sqrt(Σp(1-p))``
   and ``|O/E - 1| >= min_effect`` -> ``overconfident`` (O/E < 1) or ``underconfident``.
3. Shape: Spiegelhalter ``|Z| >= z_threshold`` and debiased calibration error
   ``>= min_error`` -> ``miscalibrated`` (wrong shape without a clear overall direction, e.g.
   too confident at high p and too timid at low p).
4. Otherwise ``calibrated`` (no evidence of miscalibration).

A fixed 1.96 threshold re-checked after every outcome is crossed sooner or later by a
perfectly calibrated agent (law of the iterated logarithm): about a third of runs within 5000
outcomes. A threshold of 3 makes crossings rare over realistic horizons, and the effect-size
gates bound the rate for any horizon, because a calibrated agent's O/E and debiased error
concentrate ever more tightly below the gates as n grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

from analytics_engine.calibration_metrics import (
    debiased_calibration_error,
    observed_expected,
    spiegelhalter_test,
)
from analytics_engine.calibration_stats import CalibrationStats
from analytics_engine.monitoring import CalibrationMonitor


class VerdictKind(StrEnum):
    INSUFFICIENT_DATA = "insufficient_data"
    CALIBRATED = "calibrated"
    OVERCONFIDENT = "overconfident"
    UNDERCONFIDENT = "underconfident"
    MISCALIBRATED = "miscalibrated"


@dataclass(frozen=True)
class Verdict:
    """Verdict with its evidence (NaN where a number is undefined, e.g. with no outcomes).

    - ``kind``: the ``VerdictKind``; ``reason``: one plain-English sentence.
    - ``n``: outcomes (weighted if the statistics are decayed).
    - ``z``, ``p_value``: Spiegelhalter's Z and its two-sided p-value.
    - ``oe_z``: calibration-in-the-large z of ``observed - expected``.
    - ``observed_expected``: O/E = Σy / Σp, with its 95% interval ``oe_lower``..``oe_upper``.
    - ``debiased_error``: square root of the debiased squared calibration error (probability
      units, e.g. 0.05 = confidence off by about 5 points).
    """

    kind: VerdictKind
    n: float
    z: float
    p_value: float
    oe_z: float
    observed_expected: float
    oe_lower: float
    oe_upper: float
    debiased_error: float
    reason: str
    e_value: float = math.nan  # the anytime-valid e-process's, when the verdict was confirmed
    anytime_p_value: float = math.nan

    @property
    def is_actionable(self) -> bool:
        """True for the kinds that justify recalibrating and moving the policy."""
        return self.kind not in (VerdictKind.INSUFFICIENT_DATA, VerdictKind.CALIBRATED)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ``kind`` as its string value, NaN and infinities as ``None``."""
        out: dict[str, Any] = {"kind": self.kind.value}
        for field in fields(self)[1:]:
            value = getattr(self, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[field.name] = value
        return out


def _ge(value: float, threshold: float) -> bool:
    return not math.isnan(value) and value >= threshold


MIN_OUTCOMES = 100  # matured outcomes a verdict needs (the default of `assess`)


def assess(
    stats: CalibrationStats,
    *,
    min_n: float = MIN_OUTCOMES,
    z_threshold: float = 3.0,
    min_effect: float = 0.1,
    min_error: float = 0.03,
) -> Verdict:
    """Judge calibration with a rule that stays valid under continuous monitoring.

    ``min_effect`` is the smallest ``|O/E - 1|`` and ``min_error`` the smallest debiased
    calibration error worth acting on.

    >>> s = CalibrationStats.from_arrays([0.9] * 200, [1.0] * 120 + [0.0] * 80)
    >>> v = assess(s)
    >>> v.kind.value, round(v.observed_expected, 2)
    ('overconfident', 0.67)
    >>> assess(CalibrationStats.from_arrays([0.9] * 20, [1.0] * 20)).kind.value
    'insufficient_data'
    """
    if not isinstance(stats, CalibrationStats):
        raise ValueError(f"stats must be CalibrationStats, got {type(stats).__name__}")
    for name, value in (("min_n", min_n), ("z_threshold", z_threshold)):
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
    for name, value in (("min_effect", min_effect), ("min_error", min_error)):
        if not value >= 0:
            raise ValueError(f"{name} must be non-negative, got {value!r}")
    n = stats.n
    if not n > 0:
        nan = math.nan
        return Verdict(
            VerdictKind.INSUFFICIENT_DATA,
            n,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            f"No outcomes yet; at least {min_n:g} are needed before judging calibration.",
        )
    sp = spiegelhalter_test(stats)
    oe = observed_expected(stats)
    err = debiased_calibration_error(stats).error
    evidence = (
        f"O/E {oe.ratio:.2f} (95% CI {oe.lower:.2f}–{oe.upper:.2f}), z={oe.z:.1f}, "
        f"Spiegelhalter z={sp.z:.1f}, debiased error {err:.3f}, n={n:g}"
    )

    def verdict(kind: VerdictKind, reason: str) -> Verdict:
        return Verdict(kind, n, sp.z, sp.p_value, oe.z, oe.ratio, oe.lower, oe.upper, err, reason)

    if n < min_n:
        return verdict(
            VerdictKind.INSUFFICIENT_DATA,
            f"Only {n:g} outcomes; at least {min_n:g} are needed before judging calibration.",
        )
    if _ge(abs(oe.z), z_threshold) and _ge(abs(oe.ratio - 1.0), min_effect):
        if oe.ratio < 1.0:
            return verdict(
                VerdictKind.OVERCONFIDENT,
                f"Overconfident: {oe.ratio:.0%} of the successes its confidence predicts "
                f"({evidence}).",
            )
        return verdict(
            VerdictKind.UNDERCONFIDENT,
            f"Underconfident: {oe.ratio:.0%} of the successes its confidence predicts "
            f"({evidence}).",
        )
    if _ge(abs(sp.z), z_threshold) and _ge(err, min_error):
        shape = (
            "too extreme (overconfident near 0 and 1)"
            if sp.z > 0
            else "too timid (underconfident near 0 and 1)"
        )
        return verdict(
            VerdictKind.MISCALIBRATED,
            f"Miscalibrated in shape: confidence is {shape} though right on average ({evidence}).",
        )
    return verdict(VerdictKind.CALIBRATED, f"No evidence of miscalibration ({evidence}).")


def confirm(verdict: Verdict, monitor: CalibrationMonitor, *, alpha: float = 0.05) -> Verdict:
    """The verdict of a scope re-assessed after every outcome, made valid at any horizon: an
    actionable verdict stands only once the scope's calibration e-process
    (``monitoring.CalibrationMonitor``, fed every outcome in the order the actions were taken)
    has reached ``1/alpha``; until then it is ``calibrated``, its reason saying what the rule
    saw and how far the evidence is. A calibrated agent then gets an actionable verdict, ever,
    with probability at most ``alpha`` (Ville's inequality), however long it is monitored.
    The e-value and the anytime-valid p-value are kept on the verdict either way.

    >>> s = CalibrationStats.from_arrays([0.9] * 200, [1.0] * 120 + [0.0] * 80)
    >>> early = CalibrationMonitor().update([0.9] * 20, [1.0] * 12 + [0.0] * 8)
    >>> confirm(assess(s), early).kind.value
    'calibrated'
    >>> later = early.update([0.9] * 180, [1.0] * 108 + [0.0] * 72)
    >>> v = confirm(assess(s), later)
    >>> v.kind.value, v.e_value > 20
    ('overconfident', True)
    """
    if not isinstance(verdict, Verdict):
        raise ValueError(f"verdict must be Verdict, got {type(verdict).__name__}")
    if not isinstance(monitor, CalibrationMonitor):
        raise ValueError(f"monitor must be CalibrationMonitor, got {type(monitor).__name__}")
    e, p = monitor.e_value, monitor.p_value
    measured = replace(verdict, e_value=e, anytime_p_value=p)
    if not verdict.is_actionable:
        return measured
    if monitor.alarm(alpha=alpha):
        return replace(
            measured,
            reason=f"{verdict.reason[:-1]}; confirmed at any horizon (e-value {e:.3g} "
            f"≥ {1 / alpha:g}, anytime p = {p:.2g}).",
        )
    return replace(
        measured,
        kind=VerdictKind.CALIBRATED,
        reason=f"Not yet confirmed at any horizon: {verdict.reason[:-1]}, but the e-value is "
        f"{e:.3g} (< {1 / alpha:g}; anytime p = {p:.2g}) after {monitor.n:g} outcomes in order, "
        "so no action yet.",
    )
