"""The JSON form of a calibration verdict, stored with the verdict itself (the e-value and
anytime p-value of the scope's monitor with it)."""

from __future__ import annotations

import math
from typing import Any

from analytics_engine.verdict import Verdict


def verdict_evidence(verdict: Verdict) -> dict[str, Any]:
    """The verdict as stored with it (camelCase, rounded, undefined numbers as null)."""

    def number(value: float) -> float | None:
        return None if not math.isfinite(value) else round(float(value), 6)

    return {
        "kind": verdict.kind.value,
        "n": number(verdict.n),
        "z": number(verdict.z),
        "pValue": number(verdict.p_value),
        "oeZ": number(verdict.oe_z),
        "observedExpected": number(verdict.observed_expected),
        "oeLower": number(verdict.oe_lower),
        "oeUpper": number(verdict.oe_upper),
        "debiasedError": number(verdict.debiased_error),
        "eValue": number(verdict.e_value),
        "anytimePValue": number(verdict.anytime_p_value),
        "reason": verdict.reason,
    }
