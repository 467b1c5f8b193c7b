"""GraphQL types of the dashboards' metrics: rates with intervals, money with its currency,
agent versus human, calibration, ROI and trend points. Undefined numbers (NaN) are null."""

from __future__ import annotations

import datetime as dt
import math

import strawberry
from strawberry.types import Info

from analytics_engine.roi import RateComparison as EngineComparison
from analytics_engine.roi import RateEstimate as EngineRate
from analytics_engine.roi import RoiCase
from backend.analytics import metrics as m
from backend.feedback.models import FeedbackTarget as TargetModel
from backend.orgs.models import User
from backend.roi.assumptions import Assumption
from backend.roi.models import EVERY_ACTION_TYPE
from graphql_schema.feedback.types import FeedbackTarget
from graphql_schema.loaders import by_id
from graphql_schema.orgs.types import UserType


def _n(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _money(value: m.Money | None) -> Money | None:
    return Money(amount=value.amount, currency=value.currency) if value is not None else None


@strawberry.type(description="An amount of money in one currency.")
class Money:
    amount: float = strawberry.field(description="The amount.")
    currency: str = strawberry.field(description="ISO 4217 code, e.g. `USD`.")


@strawberry.type(
    description="A sum in the dashboard's currency; sums in other currencies are "
    "listed apart, never converted or mixed in."
)
class MoneyTotal:
    total: Money = strawberry.field(description="The sum in the dashboard's currency.")
    other_currencies: list[Money] = strawberry.field(
        description="Sums in other currencies (not included in `total`)."
    )

    @classmethod
    def of(cls, value: m.MoneyTotal) -> MoneyTotal:
        return cls(
            total=Money(amount=value.total.amount, currency=value.total.currency),
            other_currencies=[
                Money(amount=x.amount, currency=x.currency) for x in value.other_currencies
            ],
        )


@strawberry.type(
    description="A proportion with its 95% Wilson (1927) interval; with no "
    "trials `rate` is null and the interval [0, 1]."
)
class RateEstimate:
    successes: float = strawberry.field(description="Successes (fractions on ordinal scales).")
    count: float = strawberry.field(description="Trials.")
    rate: float | None = strawberry.field(description="successes / count.")
    lower: float | None = strawberry.field(description="Lower end of the 95% interval.")
    upper: float | None = strawberry.field(description="Upper end of the 95% interval.")

    @classmethod
    def of(cls, r: EngineRate) -> RateEstimate:
        return cls(
            successes=r.successes,
            count=r.count,
            rate=_n(r.rate),
            lower=_n(r.lower),
            upper=_n(r.upper),
        )


@strawberry.type(
    description="The agent's rate against the human baseline's: the difference "
    "agent - human with Newcombe's (1998) 95% interval."
)
class RateComparison:
    agent: RateEstimate = strawberry.field(description="The agent's rate.")
    human: RateEstimate = strawberry.field(description="The human baseline's rate.")
    difference: float | None = strawberry.field(description="agent - human.")
    difference_lower: float | None = strawberry.field(description="Lower end of its interval.")
    difference_upper: float | None = strawberry.field(description="Upper end of its interval.")
    p_value: float | None = strawberry.field(description="Two-sided two-proportion z-test.")

    @classmethod
    def of(cls, c: EngineComparison | None) -> RateComparison | None:
        if c is None:
            return None
        return cls(
            agent=RateEstimate.of(c.agent),
            human=RateEstimate.of(c.human),
            difference=_n(c.difference),
            difference_lower=_n(c.difference_lower),
            difference_upper=_n(c.difference_upper),
            p_value=_n(c.p_value),
        )


@strawberry.type(description="Actions of one type in the range.")
class ActionTypeActivity:
    action_type: str = strawberry.field(description="email, meeting, escalation, ...")
    actions: int = strawberry.field(description="Actions taken.")
    escalations: int = strawberry.field(description="Of which escalated to a person.")
    critical: int = strawberry.field(description="Of which critical.")
    tokens: int = strawberry.field(description="Model tokens used.")


@strawberry.type(
    description="Escalations: actions of type `escalation`, or whose policy "
    "decision was `escalate`."
)
class EscalationMetrics:
    count: int = strawberry.field(description="Escalations in the range.")
    rate: RateEstimate = strawberry.field(description="Escalations per action.")
    critical: int = strawberry.field(description="Critical actions in the range.")


@strawberry.type(description="Replies and meetings, for the actions taken in the range.")
class ResponseMetrics:
    emails: int = strawberry.field(description="E-mails and follow-ups sent.")
    replies: RateEstimate = strawberry.field(
        description="Response rate: positive replies over the decided reply outcomes of the "
        "days whose reply windows have all closed (later days would lean towards success: a "
        "reply is decided at once, no reply only when the window closes)."
    )
    pending_replies: int = strawberry.field(
        description="Reply outcomes of those days still undecided (waiting for a label)."
    )
    maturing_replies: int = strawberry.field(
        description="Reply outcomes of the days whose windows are still open: not in the rate."
    )
    versus_human: RateComparison | None = strawberry.field(
        description="Response rate against the human baseline (null without one)."
    )
    meetings_booked: int = strawberry.field(description="Meetings booked.")
    attendance: RateEstimate = strawberry.field(
        description="Meetings attended, of the decided ones of the days whose windows closed."
    )
    pending_attendance: int = strawberry.field(
        description="Meetings of those days still undecided (waiting for a label)."
    )
    maturing_attendance: int = strawberry.field(
        description="Meetings of the days whose windows are still open: not in the rate."
    )


@strawberry.type(
    description="Success of one action type (its calibrating outcome) against the human baseline."
)
class ActionTypeRate:
    action_type: str = strawberry.field(description="The action type.")
    outcome_type: str = strawberry.field(description="Its success measure, e.g. email_reply.")
    resolved: int = strawberry.field(
        description="Decided outcomes of the days whose windows have all closed: what the "
        "rate counts."
    )
    pending: int = strawberry.field(
        description="Outcomes of those days still undecided (waiting for a label)."
    )
    maturing: int = strawberry.field(
        description="Outcomes of the days whose windows are still open: not in the rate "
        "until they close."
    )
    agent: RateEstimate = strawberry.field(description="The agent's success rate.")
    versus_human: RateComparison | None = strawberry.field(
        description="Against the human baseline's response rate (null without a baseline)."
    )
    human_conversion_rate: float | None = strawberry.field(
        description="The human baseline's conversion rate, for reference."
    )
    human_minutes_per_task: float | None = strawberry.field(
        description="Minutes a person spends on one such task (the baseline)."
    )


@strawberry.type(description="Deals the agent's actions touched that moved in the range.")
class DealImpact:
    progressed: int = strawberry.field(description="Deals that moved forward (or were won).")
    won: int = strawberry.field(description="Deals won.")
    lost: int = strawberry.field(description="Deals lost.")
    win_rate: RateEstimate = strawberry.field(description="Won over won + lost.")
    amount_won: MoneyTotal = strawberry.field(description="Amount of the deals won.")


@strawberry.type(description="Feedback on one kind of target.")
class FeedbackScoreByTarget:
    target_type: FeedbackTarget = strawberry.field(description="What was rated.")
    count: int = strawberry.field(description="Ratings given.")
    mean_rating: float | None = strawberry.field(description="Mean rating on the target's scale.")
    mean_score: float | None = strawberry.field(
        description="Mean rating on [0, 1] (thumbs: share up; five levels: (rating - 1) / 4)."
    )


@strawberry.type(description="What people said about the agent's work in the range.")
class FeedbackScores:
    count: int = strawberry.field(description="Ratings given.")
    prompted: int = strawberry.field(description="Of which answered a prompt.")
    thumbs_up: RateEstimate = strawberry.field(description="Share of thumbs up on messages.")
    mean_score: float | None = strawberry.field(description="Mean of all ratings on [0, 1].")
    by_target: list[FeedbackScoreByTarget] = strawberry.field(description="Per target type.")


@strawberry.type(description="How well stated confidence matched outcomes for one action type.")
class CalibrationAccuracy:
    action_type: str = strawberry.field(description="The action type.")
    outcomes: float = strawberry.field(description="Resolved calibrating outcomes in the range.")
    brier: float | None = strawberry.field(description="Brier score (0 is perfect).")
    debiased_error: float | None = strawberry.field(
        description="Debiased calibration error (Kumar et al. 2019), in probability units."
    )
    mean_confidence: float | None = strawberry.field(description="Mean stated confidence.")
    observed_rate: float | None = strawberry.field(description="Mean outcome.")
    matured_outcomes: float = strawberry.field(
        description="Outcomes of matured days (all windows closed), which the verdict judges."
    )
    verdict: str = strawberry.field(
        description="insufficient_data, calibrated, overconfident, underconfident or miscalibrated."
    )
    verdict_reason: str = strawberry.field(
        description="The verdict in one sentence; with too few matured outcomes beside "
        "maturing ones, how many are maturing and when a verdict can be expected."
    )
    maturing_outcomes: float = strawberry.field(
        description="Outcomes decided early on days whose windows are still open: not judged."
    )
    verdict_expected_by: dt.date | None = strawberry.field(
        description="When the maturing outcomes will all have matured, if they are enough for "
        "a verdict then (null otherwise, or with a verdict already)."
    )


@strawberry.type(description="What the agent cost.")
class CostMetrics:
    total: MoneyTotal = strawberry.field(description="Total cost.")
    per_interaction: Money | None = strawberry.field(
        description="Cost per action (null without actions, or with costs in other currencies)."
    )
    tokens: int = strawberry.field(description="Model tokens used.")
    tokens_per_interaction: float | None = strawberry.field(description="Tokens per action.")


@strawberry.type(
    description="One ROI assumption as used: its low / expected / high values and where it "
    "comes from: `set` (a change someone made: its version, first day, reason), "
    "`human_baseline` (the team's baseline figure, one value) or `default` (shown so that it "
    "is seen and changed). Money assumptions are in the dashboard's currency."
)
class RoiAssumption:
    name: str = strawberry.field(
        description="e.g. `loaded_hourly_cost`, `minutes_per_task` (see docs/analytics.md)."
    )
    action_type: str | None = strawberry.field(
        description="The action type it is for; null: every type."
    )
    low: float = strawberry.field(description="Low end.")
    expected: float = strawberry.field(description="Expected value.")
    high: float = strawberry.field(description="High end.")
    source: str = strawberry.field(description="`set`, `human_baseline` or `default`.")
    version: int | None = strawberry.field(description="The change that set it, if `set`.")
    effective_from: dt.date | None = strawberry.field(description="In force from this day.")
    reason: str | None = strawberry.field(description="Why it was set.")
    changed_at: dt.datetime | None = strawberry.field(description="When it was set.")
    changed_by_id: strawberry.Private[int | None] = None

    @strawberry.field(description="Who set it (null: an API key, a default or a baseline).")
    async def changed_by(self, info: Info) -> UserType | None:
        if self.changed_by_id is None:
            return None
        row = await info.context.loaders.get(by_id(User)).load(self.changed_by_id)
        return UserType.of(row) if row is not None else None

    @classmethod
    def of(cls, a: Assumption) -> RoiAssumption:
        return cls(
            name=a.name,
            action_type=None if a.action_type == EVERY_ACTION_TYPE else a.action_type,
            low=a.span.low,
            expected=a.span.expected,
            high=a.span.high,
            source=a.source,
            version=a.version,
            effective_from=a.effective_from,
            reason=a.reason,
            changed_at=a.changed_at,
            changed_by_id=a.changed_by_id,
        )


@strawberry.type(
    description="The ROI at one end of its assumptions and of the lift's interval. Money "
    "fields are null when amounts in other currencies are involved."
)
class RoiScenario:
    hours_saved: float = strawberry.field(
        description="Hours of the work the agent completed (not escalated, not redone), at "
        "the minutes per task, capped at `capacityHours`."
    )
    hours_saved_uncapped: float = strawberry.field(description="Before the cap.")
    capacity_hours: float = strawberry.field(
        description="The working hours of the people in scope over the range: the most the "
        "agent can save."
    )
    capped: bool = strawberry.field(description="Whether the cap bound.")
    human_hours_caused: float = strawberry.field(
        description="People's hours the agent caused: escalations handled, prompts answered, "
        "threads reviewed, outcomes labelled."
    )
    incremental_successes: float = strawberry.field(
        description="Successes beyond the human baseline: lift x decided outcomes, summed over "
        "the action types with a baseline."
    )
    hourly_cost: Money | None = strawberry.field(description="Loaded hourly cost used.")
    value_of_time_saved: Money | None = strawberry.field(description="hoursSaved x hourly cost.")
    incremental_value: Money | None = strawberry.field(
        description="incrementalSuccesses x value per success."
    )
    agent_cost: Money | None = strawberry.field(description="The agent's own cost (tokens).")
    platform_cost: Money | None = strawberry.field(
        description="Platform cost per action x actions."
    )
    cost_of_human_time: Money | None = strawberry.field(
        description="humanHoursCaused x hourly cost."
    )
    total_cost: Money | None = strawberry.field(
        description="agentCost + platformCost + costOfHumanTime."
    )
    net_value: Money | None = strawberry.field(
        description="valueOfTimeSaved + incrementalValue - totalCost."
    )
    roi: float | None = strawberry.field(description="netValue / totalCost; null when 0.")

    @classmethod
    def of(cls, c: RoiCase, currency: str, money: bool) -> RoiScenario:
        def cash(value: float) -> Money | None:
            amount = _n(value)
            return Money(amount=amount, currency=currency) if money and amount is not None else None

        return cls(
            hours_saved=c.hours_saved,
            hours_saved_uncapped=c.hours_saved_uncapped,
            capacity_hours=c.capacity_hours,
            capped=c.capped,
            human_hours_caused=c.human_hours_caused,
            incremental_successes=c.incremental_successes,
            hourly_cost=cash(c.hourly_cost),
            value_of_time_saved=cash(c.value_of_time_saved),
            incremental_value=cash(c.incremental_value),
            agent_cost=cash(c.agent_cost),
            platform_cost=cash(c.platform_cost),
            cost_of_human_time=cash(c.cost_of_human_time),
            total_cost=cash(c.total_cost),
            net_value=cash(c.net_value),
            roi=_n(c.roi) if money else None,
        )


@strawberry.type(
    description="One action type's ROI: its own work, escalations and cost (prompts, reviews "
    "and labels are not attributed to a type, so these do not sum to the total)."
)
class ActionTypeRoi:
    action_type: str = strawberry.field(description="The action type.")
    low: RoiScenario = strawberry.field(description="At the low ends.")
    expected: RoiScenario = strawberry.field(description="At the expected values.")
    high: RoiScenario = strawberry.field(description="At the high ends.")


@strawberry.type(
    description="Return on investment, as a CFO would check it: the time of the work the "
    "agent completed that nobody redid (bounded by the team's working hours) and the outcomes "
    "it won over the human baseline, against its tokens, the platform's cost and the people's "
    "time it caused; at the low, expected and high ends of every assumption and of the lift's "
    "95% interval, with each assumption shown (see docs/analytics.md)."
)
class RoiMetrics:
    interactions: int = strawberry.field(description="Actions.")
    escalations: int = strawberry.field(description="Actions handed to a person.")
    redone: int = strawberry.field(
        description="Actions not escalated that a person judged wrong (thumbs down, or 1-2 of "
        "5): taken as redone, so they save no time."
    )
    automated_tasks: int = strawberry.field(
        description="Actions completed by the agent: not escalated, not redone."
    )
    interactions_with_baseline: int = strawberry.field(
        description="Actions whose type has minutes per task (set, or from a human baseline): "
        "the others save no time here.",
        deprecation_reason="Every assumption is listed in `assumptions`, with its source.",
    )
    prompts_answered: int = strawberry.field(description="Feedback prompts people answered.")
    reviews: int = strawberry.field(description="Thread reviews people wrote.")
    labels: int = strawberry.field(description="Outcomes people labelled.")
    escalation: RateEstimate = strawberry.field(description="Escalation rate.")
    low: RoiScenario = strawberry.field(
        description="Every assumption and the lift at the end that lowers the net value."
    )
    expected: RoiScenario = strawberry.field(description="At the expected values.")
    high: RoiScenario = strawberry.field(
        description="Every assumption and the lift at the end that raises the net value."
    )
    hours_saved: float = strawberry.field(description="expected.hoursSaved.")
    value_of_time_saved: Money | None = strawberry.field(description="expected.valueOfTimeSaved.")
    total_cost: Money | None = strawberry.field(description="expected.totalCost.")
    net_value: Money | None = strawberry.field(description="expected.netValue.")
    cost_per_interaction: Money | None = strawberry.field(
        description="expected.totalCost / interactions."
    )
    roi: float | None = strawberry.field(description="expected.roi.")
    assumptions: list[RoiAssumption] = strawberry.field(
        description="Every assumption these figures used, with its source."
    )
    by_action_type: list[ActionTypeRoi] = strawberry.field(description="Per action type.")
    note: str | None = strawberry.field(
        description="Why some figure is missing, partial or capped."
    )

    @classmethod
    def of(cls, r: m.Roi) -> RoiMetrics:
        money, currency = r.money_available, r.currency
        low, expected, high = (
            RoiScenario.of(c, currency, money)
            for c in (r.range.low, r.range.expected, r.range.high)
        )
        e = r.range.expected
        per_action = e.total_cost / r.interactions if r.interactions else math.nan
        per_action_money = _n(per_action)
        return cls(
            interactions=r.interactions,
            escalations=r.escalations,
            redone=r.redone,
            interactions_with_baseline=r.with_minutes,
            automated_tasks=r.interactions - r.escalations - r.redone,
            prompts_answered=int(r.caused.prompts),
            reviews=int(r.caused.reviews),
            labels=int(r.caused.labels),
            escalation=RateEstimate.of(r.escalation),
            low=low,
            expected=expected,
            high=high,
            hours_saved=e.hours_saved,
            value_of_time_saved=expected.value_of_time_saved,
            total_cost=expected.total_cost,
            net_value=expected.net_value,
            cost_per_interaction=Money(amount=per_action_money, currency=currency)
            if money and per_action_money is not None
            else None,
            roi=expected.roi,
            assumptions=[RoiAssumption.of(a) for a in r.assumptions],
            by_action_type=[
                ActionTypeRoi(
                    action_type=t.action_type,
                    low=RoiScenario.of(t.range.low, currency, money),
                    expected=RoiScenario.of(t.range.expected, currency, money),
                    high=RoiScenario.of(t.range.high, currency, money),
                )
                for t in r.by_action_type
            ],
            note=r.note,
        )


@strawberry.type(description="The metrics of one scope (an agent, a team, the organisation).")
class DashboardMetrics:
    interactions: int = strawberry.field(description="Actions taken in the range.")
    actions_by_type: list[ActionTypeActivity] = strawberry.field(description="Per action type.")
    escalations: EscalationMetrics = strawberry.field(description="Escalation count and rate.")
    responses: ResponseMetrics = strawberry.field(description="Response rate and meetings.")
    rates_by_action_type: list[ActionTypeRate] = strawberry.field(
        description="Agent versus human success per action type."
    )
    deal_impact: DealImpact = strawberry.field(description="Deals moved, won and lost.")
    feedback: FeedbackScores = strawberry.field(description="Feedback scores.")
    calibration: list[CalibrationAccuracy] = strawberry.field(
        description="Calibration accuracy per action type."
    )
    cost: CostMetrics = strawberry.field(description="Cost, per interaction, tokens.")
    roi: RoiMetrics = strawberry.field(description="Time saved and ROI versus the human baseline.")

    @classmethod
    def of(cls, x: m.Metrics) -> DashboardMetrics:
        r, f, d, c = x.responses, x.feedback, x.deal_impact, x.costs
        return cls(
            interactions=x.interactions,
            actions_by_type=[
                ActionTypeActivity(
                    action_type=a.action_type,
                    actions=a.actions,
                    escalations=a.escalations,
                    critical=a.critical,
                    tokens=a.tokens,
                )
                for a in x.actions_by_type
            ],
            escalations=EscalationMetrics(
                count=x.escalations.count,
                rate=RateEstimate.of(x.escalations.rate),
                critical=x.escalations.critical,
            ),
            responses=ResponseMetrics(
                emails=r.emails,
                replies=RateEstimate.of(r.replies),
                pending_replies=r.pending_replies,
                maturing_replies=r.maturing_replies,
                versus_human=RateComparison.of(r.versus_human),
                meetings_booked=r.meetings_booked,
                attendance=RateEstimate.of(r.attendance),
                pending_attendance=r.pending_attendance,
                maturing_attendance=r.maturing_attendance,
            ),
            rates_by_action_type=[
                ActionTypeRate(
                    action_type=a.action_type,
                    outcome_type=a.outcome_type,
                    resolved=a.resolved,
                    pending=a.pending,
                    maturing=a.maturing,
                    agent=RateEstimate.of(a.agent),
                    versus_human=RateComparison.of(a.versus_human),
                    human_conversion_rate=_n(a.human_conversion_rate),
                    human_minutes_per_task=_n(a.human_minutes_per_task),
                )
                for a in x.rates_by_action_type
            ],
            deal_impact=DealImpact(
                progressed=d.progressed,
                won=d.won,
                lost=d.lost,
                win_rate=RateEstimate.of(d.win_rate),
                amount_won=MoneyTotal.of(d.amount_won),
            ),
            feedback=FeedbackScores(
                count=f.count,
                prompted=f.prompted,
                thumbs_up=RateEstimate.of(f.thumbs_up),
                mean_score=_n(f.mean_score),
                by_target=[
                    FeedbackScoreByTarget(
                        target_type=TargetModel(t.target_type),
                        count=t.count,
                        mean_rating=_n(t.mean_rating),
                        mean_score=_n(t.mean_score),
                    )
                    for t in f.by_target
                ],
            ),
            calibration=[
                CalibrationAccuracy(
                    action_type=a.action_type,
                    outcomes=a.outcomes,
                    brier=_n(a.brier),
                    debiased_error=_n(a.debiased_error),
                    mean_confidence=_n(a.mean_confidence),
                    observed_rate=_n(a.observed_rate),
                    matured_outcomes=a.matured_outcomes,
                    verdict=a.verdict,
                    verdict_reason=a.verdict_reason,
                    maturing_outcomes=a.maturing_outcomes,
                    verdict_expected_by=a.verdict_expected_by,
                )
                for a in x.calibration
            ],
            cost=CostMetrics(
                total=MoneyTotal.of(c.total),
                per_interaction=_money(c.per_interaction),
                tokens=c.tokens,
                tokens_per_interaction=_n(c.tokens_per_interaction),
            ),
            roi=RoiMetrics.of(x.roi),
        )


@strawberry.type(description="One day (or week) of a trend.")
class TrendPoint:
    day: dt.date = strawberry.field(description="The day, or the Monday starting the week.")
    actions: int = strawberry.field(description="Actions taken.")
    escalations: int = strawberry.field(description="Escalations.")
    replies: float = strawberry.field(
        description="Positive replies to that period's e-mails, of its days whose reply "
        "windows have all closed."
    )
    reply_outcomes: int = strawberry.field(
        description="Decided reply outcomes of its e-mails, of those days."
    )
    cost: float = strawberry.field(description="Cost in the dashboard's currency.")
    tokens: int = strawberry.field(description="Model tokens used.")
    provisional: bool = strawberry.field(
        description="Some of its days' reply windows are still open: their replies are not "
        "counted yet (see `maturingReplies`)."
    )
    maturing_replies: int = strawberry.field(
        description="Reply outcomes of its days whose windows are still open."
    )
    opens: int = strawberry.field(
        description="Opens of the agent's e-mails on its days (the day of the open, not of the "
        "e-mail): every tracking-pixel load the provider reported, by people and by software."
    )
    machine_opens: int = strawberry.field(
        description="Opens made by software, not a person: Apple Mail Privacy Protection "
        "preloading images, security scanners, bots, or any open within 10 seconds of sending "
        "(docs/analytics.md, 'Human opens'). An estimate."
    )
    human_opens: int = strawberry.field(description="opens - machineOpens: a person's opens.")
    clicks: int = strawberry.field(
        description="Link clicks in the agent's e-mails on its days, by people and by software."
    )
    machine_clicks: int = strawberry.field(
        description="Clicks made by software: security scanners and link checkers following "
        "every link, bots, or any click within 10 seconds of sending."
    )
    human_clicks: int = strawberry.field(description="clicks - machineClicks: a person's clicks.")
    point: strawberry.Private[m.TrendPoint]

    @strawberry.field(description="Escalations per action (null without actions).")
    def escalation_rate(self) -> float | None:
        return self.escalations / self.actions if self.actions else None

    @strawberry.field(
        description="`escalationRate` with its 95% Wilson (1927) interval, the method of the "
        "totals, and the n behind it (`count`: the actions, `successes`: the escalations); "
        "null without actions. A day with one action escalated reads 100% in [21%, 100%]."
    )
    def escalation_rate_estimate(self) -> RateEstimate | None:
        return RateEstimate.of(self.point.escalation_rate()) if self.actions else None

    @strawberry.field(
        description="`replyRate` with its 95% Wilson (1927) interval, the method of the "
        "totals, and the n behind it (`count`: the decided reply outcomes of its matured "
        "days, `successes`: the positive replies); null when there are none (a provisional "
        "day). A day with one reply out of one reads 100% in [21%, 100%]."
    )
    def reply_rate_estimate(self) -> RateEstimate | None:
        return RateEstimate.of(self.point.reply_rate()) if self.reply_outcomes else None

    @strawberry.field(
        description="Positive replies per decided reply outcome of its matured days (null if "
        "none: a provisional day has no rate yet)."
    )
    def reply_rate(self) -> float | None:
        return self.replies / self.reply_outcomes if self.reply_outcomes else None

    @classmethod
    def of(cls, p: m.TrendPoint) -> TrendPoint:
        return cls(
            day=p.day,
            actions=p.actions,
            escalations=p.escalations,
            replies=p.replies,
            reply_outcomes=p.reply_outcomes,
            cost=p.cost,
            tokens=p.tokens,
            provisional=p.provisional,
            maturing_replies=p.maturing_replies,
            opens=p.opens,
            machine_opens=p.machine_opens,
            human_opens=p.human_opens,
            clicks=p.clicks,
            machine_clicks=p.machine_clicks,
            human_clicks=p.human_clicks,
            point=p,
        )
