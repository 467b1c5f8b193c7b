"""What the dashboards report: the metrics of one scope (an agent, a team, the organisation)
and its trend, as frozen dataclasses. ``backend.analytics.tally`` computes them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from analytics_engine.roi import (
    HumanWorkCaused,
    RateComparison,
    RateEstimate,
    RoiRange,
    rate_estimate,
)
from backend.roi.assumptions import Assumption

REPLY_OUTCOME = "email_reply"
ATTENDANCE_OUTCOME = "meeting_attendance"
MEETING_ACTION = "meeting"


@dataclass(frozen=True)
class Money:
    amount: float
    currency: str


@dataclass(frozen=True)
class MoneyTotal:
    """A sum in the dashboard's currency; sums in other currencies are listed apart, never
    converted (no exchange rates) and never mixed into the total."""

    total: Money
    other_currencies: tuple[Money, ...] = ()


@dataclass(frozen=True)
class ActionTypeActivity:
    action_type: str
    actions: int
    escalations: int
    critical: int
    tokens: int


@dataclass(frozen=True)
class Escalations:
    count: int
    rate: RateEstimate
    critical: int


@dataclass(frozen=True)
class Responses:
    emails: int  # e-mail actions whose success is a reply (email, follow_up)
    replies: RateEstimate  # positive replies of the decided reply outcomes of matured days
    pending_replies: int  # matured days' reply outcomes waiting for a label
    maturing_replies: int  # reply outcomes of days whose windows are still open
    versus_human: RateComparison | None  # None without a human baseline
    meetings_booked: int
    attendance: RateEstimate
    pending_attendance: int
    maturing_attendance: int


@dataclass(frozen=True)
class ActionTypeRate:
    """Agent versus human success on one action type's calibrating outcome."""

    action_type: str
    outcome_type: str
    resolved: int  # decided outcomes of matured days: what the rate counts
    pending: int  # matured days' outcomes waiting for a label
    maturing: int  # outcomes of days whose windows are still open: not in the rate
    agent: RateEstimate
    versus_human: RateComparison | None
    human_conversion_rate: float | None
    human_minutes_per_task: float | None


@dataclass(frozen=True)
class DealImpact:
    progressed: int
    won: int
    lost: int
    win_rate: RateEstimate  # won / (won + lost)
    amount_won: MoneyTotal


@dataclass(frozen=True)
class FeedbackByTarget:
    target_type: str
    count: int
    mean_rating: float
    mean_score: float  # the rating on [0, 1]: thumbs 0/1, five levels (rating - 1) / 4


@dataclass(frozen=True)
class FeedbackScores:
    count: int
    prompted: int
    thumbs_up: RateEstimate
    mean_score: float
    by_target: tuple[FeedbackByTarget, ...]


@dataclass(frozen=True)
class CalibrationAccuracy:
    """Calibration of one action type over the range; the verdict only over matured days."""

    action_type: str
    outcomes: float
    brier: float
    debiased_error: float
    mean_confidence: float
    observed_rate: float
    matured_outcomes: float
    verdict: str
    verdict_reason: str
    maturing_outcomes: float = 0.0  # decided early, on days whose windows are still open
    verdict_expected_by: dt.date | None = None  # when those will have matured, if enough


@dataclass(frozen=True)
class Costs:
    total: MoneyTotal
    per_interaction: Money | None  # None without interactions or with other currencies
    tokens: int
    tokens_per_interaction: float


@dataclass(frozen=True)
class ActionTypeRoi:
    """One action type's ROI: its own work, escalations and cost (prompts, reviews and labels
    are not attributed to a type, so these do not sum to the scope's)."""

    action_type: str
    range: RoiRange


@dataclass(frozen=True)
class Roi:
    """ROI at its low / expected / high ends (``analytics_engine.roi.roi_range``), the counts
    behind it and every assumption it used; ``money_available`` is False (money figures then
    meaningless) when costs or baselines are in another currency than the dashboard's."""

    range: RoiRange
    interactions: int
    escalations: int
    redone: int  # not escalated, judged wrong by a person: no time saved
    with_minutes: int  # actions of the types that have minutes per task (the others save none)
    caused: HumanWorkCaused  # the people's work the agent made
    escalation: RateEstimate
    currency: str
    money_available: bool
    assumptions: tuple[Assumption, ...]
    by_action_type: tuple[ActionTypeRoi, ...]
    note: str | None


@dataclass(frozen=True)
class Metrics:
    interactions: int
    actions_by_type: tuple[ActionTypeActivity, ...]
    escalations: Escalations
    responses: Responses
    rates_by_action_type: tuple[ActionTypeRate, ...]
    deal_impact: DealImpact
    feedback: FeedbackScores
    calibration: tuple[CalibrationAccuracy, ...]
    costs: Costs
    roi: Roi


@dataclass(frozen=True)
class TrendPoint:
    day: dt.date  # the day, or the first day of the week
    actions: int
    escalations: int
    replies: float
    reply_outcomes: int
    cost: float  # in the dashboard's currency
    tokens: int
    maturing_replies: int = 0  # reply outcomes of provisional days, not counted in `replies`
    provisional: bool = False  # some of its reply windows are still open
    # Opens and clicks on its days (by the day they happened), and those of them software made
    # (privacy proxies, scanners, bots: `backend.signals.engagement`); the rest are a person's.
    opens: int = 0
    machine_opens: int = 0
    clicks: int = 0
    machine_clicks: int = 0

    @property
    def human_opens(self) -> int:
        return self.opens - self.machine_opens

    @property
    def human_clicks(self) -> int:
        return self.clicks - self.machine_clicks

    def reply_rate(self) -> RateEstimate:
        """Positive replies per decided reply outcome of its matured days, with the Wilson
        interval the totals use (n = ``reply_outcomes``; no rate and [0, 1] when none)."""
        # Sums of fractional successes may pass their count by a rounding error, never more.
        return rate_estimate(min(self.replies, self.reply_outcomes), self.reply_outcomes)

    def escalation_rate(self) -> RateEstimate:
        """Escalations per action, with its Wilson interval (n = ``actions``)."""
        return rate_estimate(self.escalations, self.actions)
