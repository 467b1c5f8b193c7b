"""GraphQL types of the strategic view, the what if and the win probability. Undefined
numbers (NaN) are null."""

from __future__ import annotations

import datetime as dt
import math

import strawberry

from analytics_engine import strategy as engine
from backend.strategy import service as s
from graphql_schema.analytics.types import (
    ActionTypeRoi,
    RateComparison,
    RateEstimate,
    RoiAssumption,
    RoiScenario,
)


def _n(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@strawberry.type(description="A projected figure with its 95% interval.")
class Projected:
    value: float | None = strawberry.field(description="The expected value.")
    lower: float | None = strawberry.field(description="Lower end of the 95% interval.")
    upper: float | None = strawberry.field(description="Upper end of the 95% interval.")

    @classmethod
    def of(cls, e: engine.Estimate) -> Projected:
        return cls(value=_n(e.value), lower=_n(e.lower), upper=_n(e.upper))


@strawberry.type(
    description="Hours or money at the low, expected and high ends of the assumptions and of "
    "the intervals it is built from."
)
class Span3:
    low: float = strawberry.field(description="The least the assumptions support.")
    expected: float = strawberry.field(description="At the expected values.")
    high: float = strawberry.field(description="The most the assumptions support.")

    @classmethod
    def of(cls, b: engine.Bounds) -> Span3:
        return cls(low=b.low, expected=b.expected, high=b.high)


@strawberry.type(
    description="What a policy does to the range's actions of one type: how many act alone, "
    "are reviewed or escalated, and the expected successes and errors of those acting alone "
    "(sums of calibrated p and 1 - p, 95% prediction intervals)."
)
class PolicyProjection:
    actions: float = strawberry.field(description="Actions projected for.")
    autonomous: float = strawberry.field(
        description="Acting alone (at or above the autonomy threshold)."
    )
    reviewed: float = strawberry.field(description="Acting with a person's review (in between).")
    escalated: float = strawberry.field(
        description="Escalated to a person (below the escalation threshold)."
    )
    successes: Projected = strawberry.field(
        description="Expected successes of the autonomous actions."
    )
    errors: Projected = strawberry.field(description="Expected failures of the autonomous actions.")
    error_rate: Projected = strawberry.field(description="errors / autonomous (null with none).")
    escalated_successes: Projected = strawberry.field(
        description="Successes the escalated actions would have had had the agent done them."
    )

    @classmethod
    def of(cls, p: engine.ThresholdProjection) -> PolicyProjection:
        return cls(
            actions=p.actions,
            autonomous=p.autonomous,
            reviewed=p.reviewed,
            escalated=p.escalated,
            successes=Projected.of(p.successes),
            errors=Projected.of(p.errors),
            error_rate=Projected.of(p.error_rate),
            escalated_successes=Projected.of(p.escalated_successes),
        )


@strawberry.type(
    description="Hours and money of a projection (or of a change: signed). Money in the "
    "view's currency."
)
class ProjectionValue:
    hours_saved: Span3 = strawberry.field(
        description="Actions not escalated (autonomous and reviewed) x a person's minutes per task."
    )
    hours_caused: Span3 = strawberry.field(
        description="Escalations handled and reviews done, in a person's hours."
    )
    value_of_successes: Span3 = strawberry.field(
        description="Expected successes of the actions not escalated x the value of one "
        "(gross: not over a human baseline)."
    )
    net_value: Span3 = strawberry.field(
        description="(hours saved - hours caused) x loaded hourly cost + value of successes."
    )

    @classmethod
    def of(cls, v: engine.ProjectionValue) -> ProjectionValue:
        return cls(
            hours_saved=Span3.of(v.hours_saved),
            hours_caused=Span3.of(v.hours_caused),
            value_of_successes=Span3.of(v.value_of_successes),
            net_value=Span3.of(v.net_value),
        )


@strawberry.type(description="Proposed minus current, each change with its 95% interval.")
class ProjectionChange:
    autonomous: float = strawberry.field(description="Change in actions acting alone.")
    reviewed: float = strawberry.field(description="Change in reviewed actions.")
    escalated: float = strawberry.field(description="Change in escalations.")
    successes: Projected = strawberry.field(description="Change in autonomous successes.")
    errors: Projected = strawberry.field(description="Change in autonomous errors.")


@strawberry.type(
    description="What moving one action type's autonomy threshold would do, projected over the "
    "range's actions from the calibrated probabilities of its matured outcomes."
)
class WhatIf:
    action_type: str = strawberry.field(description="The action type.")
    from_: dt.date = strawberry.field(name="from", description="First day of the range.")
    to: dt.date = strawberry.field(description="Last day of the range.")
    matured_until: dt.date = strawberry.field(
        description="The calibration read days up to this one (all their windows closed)."
    )
    decided_outcomes: float = strawberry.field(
        description="Matured decided outcomes the calibrated probabilities rest on."
    )
    actions: int = strawberry.field(description="The range's actions projected for.")
    currency: str = strawberry.field(description="Currency of the money figures.")
    autonomy_threshold: float = strawberry.field(
        description="The proposed autonomy threshold (raw confidence, as policies hold it)."
    )
    escalation_threshold: float | None = strawberry.field(
        description="The proposed escalation threshold; null: each agent's own, lowered to "
        "the autonomy threshold where above it."
    )
    calibrated_at_threshold: float = strawberry.field(
        description="The calibrated success probability at the autonomy threshold."
    )
    recalibration_method: str = strawberry.field(
        description="The map fitted on the matured outcomes: identity, platt, isotonic."
    )
    current: PolicyProjection = strawberry.field(description="At each agent's current thresholds.")
    proposed: PolicyProjection = strawberry.field(description="At the proposed thresholds.")
    change: ProjectionChange = strawberry.field(description="Proposed minus current.")
    current_value: ProjectionValue = strawberry.field(description="Hours and money now.")
    proposed_value: ProjectionValue = strawberry.field(description="Hours and money proposed.")
    change_value: ProjectionValue = strawberry.field(description="The change's hours and money.")
    assumptions: list[RoiAssumption] = strawberry.field(
        description="Every assumption behind the hours and money, with where it comes from."
    )

    @classmethod
    def of(cls, w: s.WhatIfView) -> WhatIf:
        c = w.projection.change
        return cls(
            action_type=w.action_type,
            from_=w.range.since,
            to=w.range.until,
            matured_until=w.matured_until,
            decided_outcomes=w.decided,
            actions=w.actions,
            currency=w.currency,
            autonomy_threshold=w.autonomy_threshold,
            escalation_threshold=w.escalation_threshold,
            calibrated_at_threshold=w.calibrated_at_threshold,
            recalibration_method=w.recalibration_method,
            current=PolicyProjection.of(w.projection.current),
            proposed=PolicyProjection.of(w.projection.proposed),
            change=ProjectionChange(
                autonomous=c.autonomous,
                reviewed=c.reviewed,
                escalated=c.escalated,
                successes=Projected.of(c.successes),
                errors=Projected.of(c.errors),
            ),
            current_value=ProjectionValue.of(w.current_value),
            proposed_value=ProjectionValue.of(w.proposed_value),
            change_value=ProjectionValue.of(w.change_value),
            assumptions=[RoiAssumption.of(a) for a in w.assumptions],
        )


@strawberry.type(description="One check behind a recommendation, with its numbers.")
class RecommendationEvidence:
    finding: str = strawberry.field(
        description="overconfident, error_rate_above_target, worse_than_people, calibrated, "
        "not_calibrated, better_than_people, lift_not_shown, no_baseline, "
        "error_rate_within_target, error_rate_uncertain, no_autonomous_actions, "
        "unnecessary_escalations, appropriate_escalations or escalations_undetermined."
    )
    value: float | None = strawberry.field(description="The figure checked.")
    lower: float | None = strawberry.field(description="Lower end of its 95% interval.")
    upper: float | None = strawberry.field(description="Upper end of its 95% interval.")
    target: float | None = strawberry.field(description="What it was checked against.")
    reason: str = strawberry.field(description="The finding in one sentence.")


@strawberry.type(
    description="One action type for executives: volume, lift over people, calibration, "
    "escalation appropriateness, value and cost, and a recommendation with its reasons."
)
class ActionTypeStrategy:
    action_type: str = strawberry.field(description="The action type.")
    actions: int = strawberry.field(description="Actions in the range it is judged on.")
    escalations: int = strawberry.field(description="Of which escalated.")
    agent_rate: RateEstimate | None = strawberry.field(
        description="The agent's success on matured outcomes (null without outcomes)."
    )
    lift: RateComparison | None = strawberry.field(
        description="Agent minus human success with its interval (null without a baseline)."
    )
    judged_from: dt.date = strawberry.field(
        description="First day this type is judged on: its range is as long as the one asked "
        "for and ends on its last day whose outcomes have all matured (a type deciding in 30 "
        "days is judged on the 30 days before those still maturing)."
    )
    judged_to: dt.date = strawberry.field(description="Last day this type is judged on.")
    verdict: str = strawberry.field(description="Calibration verdict on matured outcomes.")
    verdict_reason: str | None = strawberry.field(description="The verdict in one sentence.")
    debiased_calibration_error: float | None = strawberry.field(
        description="Debiased calibration error, in probability units."
    )
    matured_until: dt.date = strawberry.field(
        description="The projection reads the range's days up to this one."
    )
    decided_outcomes: float = strawberry.field(description="Matured decided outcomes behind it.")
    current: PolicyProjection = strawberry.field(description="The current thresholds, projected.")
    escalated_success: RateEstimate = strawberry.field(
        description="Escalation appropriateness: the observed success of the matured actions "
        "the current thresholds escalate (low: escalations were warranted)."
    )
    escalation_target: float = strawberry.field(
        description="Escalating is warranted when success would be at most this."
    )
    max_error_rate: float = strawberry.field(
        description="Error rate allowed for autonomous actions (1 - the policy's target)."
    )
    roi: ActionTypeRoi | None = strawberry.field(
        description="Value, cost and hours of the type (the executive dashboard's ROI)."
    )
    recommendation: str = strawberry.field(description="expand_autonomy, hold or pull_back.")
    evidence: list[RecommendationEvidence] = strawberry.field(
        description="What decided it first, then what else was found."
    )


@strawberry.type(description="The executives' strategic view over a date range.")
class StrategicView:
    from_: dt.date = strawberry.field(name="from", description="First day of the range.")
    to: dt.date = strawberry.field(description="Last day of the range.")
    currency: str = strawberry.field(description="Currency of the money figures.")
    action_types: list[ActionTypeStrategy] = strawberry.field(description="Per action type.")
    assumptions: list[RoiAssumption] = strawberry.field(
        description="Every assumption behind the money figures."
    )
    note: str | None = strawberry.field(description="What limits the money figures, if any.")

    @classmethod
    def of(cls, v: s.StrategicView) -> StrategicView:
        rows = []
        for t in v.action_types:
            money = True
            rows.append(
                ActionTypeStrategy(
                    action_type=t.action_type,
                    judged_from=t.range.since,
                    judged_to=t.range.until,
                    actions=t.actions,
                    escalations=t.escalations,
                    agent_rate=RateEstimate.of(t.rate.agent) if t.rate else None,
                    lift=RateComparison.of(t.rate.versus_human) if t.rate else None,
                    verdict=t.calibration.verdict if t.calibration else "insufficient_data",
                    verdict_reason=t.calibration.verdict_reason if t.calibration else None,
                    debiased_calibration_error=_n(t.calibration.debiased_error)
                    if t.calibration
                    else None,
                    matured_until=t.matured_until,
                    decided_outcomes=t.decided,
                    current=PolicyProjection.of(t.current),
                    escalated_success=RateEstimate.of(t.escalated_success),
                    escalation_target=t.escalation_target,
                    max_error_rate=t.max_error_rate,
                    roi=ActionTypeRoi(
                        action_type=t.action_type,
                        low=RoiScenario.of(t.roi.low, v.currency, money),
                        expected=RoiScenario.of(t.roi.expected, v.currency, money),
                        high=RoiScenario.of(t.roi.high, v.currency, money),
                    )
                    if t.roi
                    else None,
                    recommendation=t.recommendation.advice.value,
                    evidence=[
                        RecommendationEvidence(
                            finding=e.finding.value,
                            value=_n(e.value),
                            lower=_n(e.lower),
                            upper=_n(e.upper),
                            target=_n(e.target),
                            reason=r,
                        )
                        for e, r in zip(t.recommendation.evidence, t.reasons, strict=True)
                    ],
                )
            )
        return cls(
            from_=v.range.since,
            to=v.range.until,
            currency=v.currency,
            action_types=rows,
            assumptions=[RoiAssumption.of(a) for a in v.assumptions],
            note=v.note,
        )


def _reliability_verdict(r: s.WinModelReliability, skill: float | None) -> str:
    x = r.reliability
    if skill is None or r.closed_deals == 0:
        return "No closed deals to measure the win probabilities on yet."
    share = r.won_deals / r.closed_deals
    scores = f"Brier {x.brier:.3f} against {x.reference_brier:.3f} for always saying {share:.0%}"
    if skill <= 0:
        return (
            f"{scores} on {r.closed_deals} closed deals: these probabilities do not yet tell "
            "deals apart better than the share won; do not rely on them."
        )
    return f"{scores} on {r.closed_deals} closed deals: skill {skill:.0%} over the share won."


@strawberry.type(description="One bin of predicted win probability on closed deals.")
class WinReliabilityBin:
    lower: float = strawberry.field(description="Lower edge of the bin.")
    upper: float = strawberry.field(description="Upper edge of the bin.")
    count: int = strawberry.field(description="Closed deals in it.")
    mean_predicted: float = strawberry.field(description="Their mean predicted probability.")
    observed: float = strawberry.field(description="Share of them won.")
    observed_lower: float = strawberry.field(description="Wilson 95% lower end.")
    observed_upper: float = strawberry.field(description="Wilson 95% upper end.")


@strawberry.type(
    description="How reliable the win probabilities are: each closed deal the viewer may see "
    "predicted by the model fitted on the others (10-fold cross-validation)."
)
class WinProbabilityReliability:
    closed_deals: int = strawberry.field(description="Closed deals (the latest 2000 at most).")
    won_deals: int = strawberry.field(description="Of which won.")
    method: str = strawberry.field(
        description="The model fitted on all of them: logistic or stage_rate."
    )
    brier: float | None = strawberry.field(description="Brier score (0 is perfect).")
    reference_brier: float | None = strawberry.field(
        description="Brier score of always predicting the share won (to beat)."
    )
    ece: float | None = strawberry.field(description="Expected calibration error (10 bins).")
    skill: float | None = strawberry.field(
        description="Brier skill score, 1 - brier / referenceBrier: above 0, the model tells "
        "deals apart better than the share won alone; at or below 0, it does not."
    )
    verdict: str = strawberry.field(
        description="What to make of it, in one sentence (shown beside every win probability)."
    )
    curve: list[WinReliabilityBin] = strawberry.field(description="Reliability curve.")

    @classmethod
    def of(cls, r: s.WinModelReliability) -> WinProbabilityReliability:
        x = r.reliability
        skill = _n(1 - x.brier / x.reference_brier) if x.reference_brier > 0 else None
        return cls(
            skill=skill,
            verdict=_reliability_verdict(r, skill),
            closed_deals=r.closed_deals,
            won_deals=r.won_deals,
            method=r.method,
            brier=_n(x.brier),
            reference_brier=_n(x.reference_brier),
            ece=_n(x.ece),
            curve=[
                WinReliabilityBin(
                    lower=b.lower,
                    upper=b.upper,
                    count=b.count,
                    mean_predicted=b.mean_predicted,
                    observed=b.observed,
                    observed_lower=b.observed_lower,
                    observed_upper=b.observed_upper,
                )
                for b in x.curve
            ],
        )


@strawberry.type(
    description="A deal's calibrated win probability with its interval, what it rests on, and "
    "the model's reliability on closed deals beside it."
)
class DealWinProbability:
    deal_id: strawberry.ID = strawberry.field(description="The deal.")
    stage: str = strawberry.field(description="Its stage now.")
    stage_reached: str = strawberry.field(description="The furthest pipeline stage it reached.")
    raw_confidence: float | None = strawberry.field(
        description="The agent's confidence on its latest stage-progression action."
    )
    calibrated_confidence: float | None = strawberry.field(
        description="That confidence through the agent's recalibration map in force."
    )
    probability: Projected | None = strawberry.field(
        description="Win probability with its 95% interval (null for a closed deal)."
    )
    method: str | None = strawberry.field(
        description="logistic (stage reached and calibrated confidence) or stage_rate (the "
        "share won among closed deals that reached its stage, Jeffreys interval)."
    )
    reliability: WinProbabilityReliability = strawberry.field(
        description="The model's reliability on the other closed deals."
    )

    @classmethod
    def of(cls, d: s.DealWinProbability) -> DealWinProbability:
        return cls(
            deal_id=strawberry.ID(str(strawberry.relay.to_base64("Deal", d.deal_id))),
            stage=d.stage,
            stage_reached=d.stage_reached,
            raw_confidence=d.raw_confidence,
            calibrated_confidence=d.calibrated_confidence,
            probability=Projected.of(d.probability) if d.probability else None,
            method=d.method,
            reliability=WinProbabilityReliability.of(d.reliability),
        )
