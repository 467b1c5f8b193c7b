"""The metrics alert rules watch, and which rule kinds may watch each.

Rate metrics are successes out of trials per day, read from a daily rollup (`series`); the
threshold, anomaly and drift rules judge them. ``calibration_error`` (the debiased calibration
error of the calibration rollup) takes thresholds only. Calibration and policy rules watch the
events of those domains, not a series.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from backend.alerts.models import RuleKind

Source = Literal["outcomes", "actions", "calibration", "events"]


@dataclass(frozen=True)
class Metric:
    name: str
    source: Source
    kinds: frozenset[RuleKind]
    description: str
    outcome_type: str | None = None  # outcome metrics: successes / decided outcomes of this type
    is_rate: bool = True  # a share in [0, 1]


_SERIES = frozenset({RuleKind.THRESHOLD, RuleKind.ANOMALY, RuleKind.DRIFT})

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "reply_rate",
            "outcomes",
            _SERIES,
            "Replies out of decided e-mail reply outcomes, on matured days.",
            outcome_type="email_reply",
        ),
        Metric(
            "meeting_attendance_rate",
            "outcomes",
            _SERIES,
            "Meetings attended out of decided attendance outcomes, on matured days.",
            outcome_type="meeting_attendance",
        ),
        Metric(
            "escalation_rate",
            "actions",
            _SERIES,
            "Actions the agent escalated to a person out of all its actions.",
        ),
        Metric(
            "calibration_error",
            "calibration",
            frozenset({RuleKind.THRESHOLD}),
            "Debiased calibration error (Kumar et al. 2019) over the window's matured days.",
        ),
        Metric(
            "calibration_verdict",
            "events",
            frozenset({RuleKind.CALIBRATION}),
            "A verdict becomes over/underconfident or miscalibrated, or (with a threshold) its "
            "debiased error passes the threshold.",
            is_rate=False,
        ),
        Metric(
            "policy_change",
            "events",
            frozenset({RuleKind.POLICY}),
            "Automation moved a policy's thresholds, or a person froze or rolled it back.",
            is_rate=False,
        ),
    )
}


def metrics_for(kind: RuleKind) -> list[str]:
    return sorted(name for name, m in METRICS.items() if kind in m.kinds)
