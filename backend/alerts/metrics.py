"""The metrics alert rules watch, and which rule kinds may watch each.

Rate metrics are successes out of trials per day, read from a daily rollup (`series`); the
threshold, anomaly and drift rules judge them. The others take thresholds only: the debiased
calibration error of the calibration rollup, the cost per interaction and the feedback score
pooled over the window's days, and two figures measured at the moment of judging (the age of
the labelling queue, the prompts left unanswered). Calibration and policy rules watch the
events of those domains, not a series.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from backend.alerts.models import Direction, RuleKind
from backend.outcomes.rules import DEFAULT_PLANS

Source = Literal[
    "outcomes", "actions", "calibration", "costs", "feedback", "label_queue", "prompts", "events"
]
# How a metric's value reads: a share or a score on [0, 1], money in the actions' currency,
# hours, a count.
Unit = Literal["share", "score", "money", "hours", "count"]
BOTH = frozenset({Direction.ABOVE, Direction.BELOW})


@dataclass(frozen=True)
class Metric:
    name: str
    source: Source
    kinds: frozenset[RuleKind]
    description: str
    outcome_type: str | None = None  # outcome metrics: successes / decided outcomes of this type
    is_rate: bool = True  # its value (and so its thresholds) lies in [0, 1]
    unit: Unit = "share"
    # The action types a rule may narrow it to: None any, empty none (its data has no type).
    action_types: frozenset[str] | None = None
    directions: frozenset[Direction] = BOTH  # the sides a threshold may fire on

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    def format(self, value: float, *, currency: str | None = None) -> str:
        """The value as a message shows it, with its unit."""
        if self.unit == "money":
            return f"{value:.4f} {currency or ''}".rstrip()
        if self.unit == "hours":
            return f"{value:.1f} hours"
        if self.unit == "count":
            return f"{value:g}"
        if self.unit == "score":
            return f"{value:.2f} (of 1)"
        return f"{value:.3f}"


def _with_outcome(outcome_type: str) -> frozenset[str]:
    """The action types whose actions open outcomes of this type (an organisation's config
    changes windows and expiries, never which outcomes an action opens)."""
    return frozenset(
        action_type
        for action_type, plans in DEFAULT_PLANS.items()
        if any(plan.outcome_type == outcome_type for plan in plans)
    )


_SERIES = frozenset({RuleKind.THRESHOLD, RuleKind.ANOMALY, RuleKind.DRIFT})
_THRESHOLD = frozenset({RuleKind.THRESHOLD})

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "reply_rate",
            "outcomes",
            _SERIES,
            "Replies out of decided e-mail reply outcomes, on matured days.",
            outcome_type="email_reply",
            action_types=_with_outcome("email_reply"),
        ),
        Metric(
            "meeting_attendance_rate",
            "outcomes",
            _SERIES,
            "Meetings attended out of decided attendance outcomes, on matured days.",
            outcome_type="meeting_attendance",
            action_types=_with_outcome("meeting_attendance"),
        ),
        Metric(
            "escalation_rate",
            "actions",
            _SERIES,
            "Actions the agent escalated to a person out of all its actions.",
        ),
        Metric(
            "escalation_appropriateness",
            "outcomes",
            _SERIES,
            "How appropriate the agent's escalations were, as people judged them: the mean "
            "escalation quality (0..1) of the decided escalation outcomes, on matured days.",
            outcome_type="escalation_quality",
            action_types=_with_outcome("escalation_quality"),
        ),
        Metric(
            "calibration_error",
            "calibration",
            _THRESHOLD,
            "Debiased calibration error (Kumar et al. 2019) over the window's matured days.",
        ),
        Metric(
            "cost_per_interaction",
            "costs",
            _THRESHOLD,
            "The agent's cost per action over the window's days, in the currency most of its "
            "actions were paid in.",
            is_rate=False,
            unit="money",
        ),
        Metric(
            "feedback_score",
            "feedback",
            _THRESHOLD,
            "People's mean rating of the agent's work on [0, 1] (thumbs 0/1, 1..5 as "
            "(r - 1) / 4), of the ratings given in the window's days.",
            unit="score",
            action_types=frozenset(),  # the ratings' rollup is by target, not action type
        ),
        Metric(
            "label_queue_age",
            "label_queue",
            _THRESHOLD,
            "Hours the oldest outcome waiting for a person's label has waited (since its window "
            "ended, or since the signal that needs a person arrived); 0 when none waits.",
            is_rate=False,
            unit="hours",
            directions=frozenset({Direction.ABOVE}),
        ),
        Metric(
            "unanswered_prompts",
            "prompts",
            _THRESHOLD,
            "Feedback prompts whose answer was due in the trailing window and that nobody "
            "answered.",
            is_rate=False,
            unit="count",
            directions=frozenset({Direction.ABOVE}),
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
