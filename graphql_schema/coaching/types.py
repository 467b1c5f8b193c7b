"""GraphQL types: CoachingInsight (a pattern a team can act on: its statement and advice, the
effect with its interval, the evidence with example actions, the decision and its follow-up)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, TypeAlias

import strawberry
from strawberry import relay
from strawberry.types import Info

from backend.actions.models import AgentAction
from backend.coaching import models
from backend.coaching.service import Decision, visible_to
from backend.orgs.models import Team, User
from graphql_schema.actions.types import ActionType
from graphql_schema.loaders import by_id
from graphql_schema.nodes import load_nodes
from graphql_schema.orgs.types import TeamType, UserType

# Each GraphQL enum is the domain's enum registered with Strawberry; the alias names it
# in annotations (a call's result is no type to mypy).
strawberry.enum(
    models.InsightStatus,
    name="CoachingInsightStatus",
    description="NEW (waiting for a manager), ACTED_ON, DISMISSED, or EXPIRED (nobody decided "
    "before its expiry).",
)
InsightStatus: TypeAlias = models.InsightStatus
strawberry.enum(
    models.InsightAudience,
    name="CoachingAudience",
    description="Who an insight is for: MANAGER (e.g. one agent apart from its team, how people "
    "rate the agent's work) or REP (advice the team's reps can follow themselves).",
)
InsightAudience: TypeAlias = models.InsightAudience
strawberry.enum(
    models.InsightDirection,
    name="CoachingEffectDirection",
    description="HIGHER: the group does better than the rest of the team's actions; LOWER: worse.",
)
InsightDirection: TypeAlias = models.InsightDirection
strawberry.enum(
    Decision,
    name="CoachingDecision",
    description="A manager's decision on an insight: ACTED_ON (its effect is then measured on "
    "later actions) or DISMISSED (not raised again for 12 weeks unless its evidence clearly "
    "grows).",
)
DecisionEnum: TypeAlias = Decision


@strawberry.type(description="An interval around a difference, at its confidence level.")
class CoachingInterval:
    low: float = strawberry.field(description="Lower bound.")
    high: float = strawberry.field(description="Upper bound.")
    confidence_level: float = strawberry.field(description="E.g. 0.95.")


@strawberry.type(
    description="How the group's outcome differs from the rest of the team's actions. For "
    "SUCCESS_RATE outcomes rates are shares of successes; for MEAN_OUTCOME (graded outcomes, "
    "ratings) means on a 0..1 scale."
)
class CoachingEffect:
    measure: str = strawberry.field(description="success_rate or mean_outcome.")
    rate: float = strawberry.field(description="The group's rate (or mean).")
    baseline_rate: float = strawberry.field(description="The rest of the actions' rate.")
    difference: float = strawberry.field(description="rate - baselineRate.")
    interval: CoachingInterval = strawberry.field(
        description="Interval of the difference (Newcombe for rates, Welch for means)."
    )
    lift: float | None = strawberry.field(
        description="rate / baselineRate; null when the baseline is 0."
    )
    p_value: float = strawberry.field(description="Two-sided p-value of `test`.")
    q_value: float = strawberry.field(
        description="Benjamini-Hochberg adjusted p-value over every candidate tested in the run."
    )
    test: str = strawberry.field(
        description="two_proportion_z, fisher_exact (small expected counts) or welch_t."
    )
    adjusted_odds_ratio: float | None = strawberry.field(
        description="Odds ratio of the group adjusted for action type (logistic model); null "
        "when not estimable."
    )
    adjusted_p_value: float | None = strawberry.field(
        description="Wald p-value of that odds ratio."
    )


@strawberry.type(description="What the insight rests on.")
class CoachingEvidence:
    n: int = strawberry.field(
        description="Actions compared (decided outcomes of matured days only)."
    )
    support: int = strawberry.field(description="Actions in the group.")
    candidates_tested: int = strawberry.field(
        description="Feature values tested in the run (what the false-discovery control covers)."
    )
    false_discovery_rate: float = strawberry.field(
        description="The Benjamini-Hochberg level insights were kept at (q <= this)."
    )
    min_support: int = strawberry.field(
        description="Actions a group needed, in it and outside it, to be tested."
    )
    example_action_ids: strawberry.Private[list[int]]

    @strawberry.field(
        description="A few of the group's actions that show the effect (successes when it does "
        "better, failures when worse), latest first; those you may see, to open."
    )
    async def example_actions(self, info: Info) -> list[ActionType]:
        rows = await info.context.loaders.get(by_id(AgentAction)).load_many(self.example_action_ids)
        return [ActionType.of(row) for row in rows if row is not None]


@strawberry.type(description="A manager's decision on an insight.")
class CoachingDecisionRecord:
    decision: DecisionEnum = strawberry.field(description="ACTED_ON or DISMISSED.")
    decided_at: dt.datetime = strawberry.field(description="When.")
    note: str | None = strawberry.field(description="Why, or what was done.")
    decided_by_id: strawberry.Private[int | None]

    @strawberry.field(description="Who decided; null for the service itself.")
    async def decided_by(self, info: Info) -> UserType | None:
        if self.decided_by_id is None:
            return None
        row = await info.context.loaders.get(by_id(User)).load(self.decided_by_id)
        return UserType.of(row) if row is not None else None


@strawberry.type(
    description="The team's outcome on actions taken after the insight was acted on (days "
    "whose windows have all closed), against the insight's own period: a before/after "
    "comparison, not a controlled experiment."
)
class CoachingFollowUp:
    n: int = strawberry.field(description="Decided outcomes after acting.")
    rate: float = strawberry.field(description="The team's rate (or mean) after acting.")
    before_rate: float = strawberry.field(description="The team's rate in the insight's period.")
    difference: float = strawberry.field(description="rate - beforeRate.")
    interval: CoachingInterval = strawberry.field(description="Interval of the difference.")
    p_value: float = strawberry.field(description="Two-sided p-value of the difference.")
    share: float = strawberry.field(
        description="Share of the actions after acting that had the insight's feature value."
    )
    before_share: float = strawberry.field(description="That share in the insight's period.")
    period_end: dt.date = strawberry.field(description="Last day of actions measured (UTC).")
    measured_at: dt.datetime = strawberry.field(description="When it was measured.")


@strawberry.type(
    name="CoachingInsight",
    description="A pattern in a team's outcomes or ratings that people can act on: a feature "
    "value of the agent's actions (send day or time, length, personalisation, a question, "
    "follow-up spacing, the agent) whose outcome differs from the rest, with its effect, "
    "evidence, audience and expiry.",
)
class CoachingInsightType(relay.Node):
    id: relay.NodeID[int]
    outcome_type: str = strawberry.field(
        description="The outcome compared: email_reply, meeting_attendance, deal_progression, "
        "escalation_quality, or human_rating (people's ratings of the agent's work)."
    )
    feature: str = strawberry.field(
        description="weekday, send_time, length, personalised, question, follow_up_spacing or "
        "agent."
    )
    feature_value: str = strawberry.field(
        description="The value (e.g. tue, morning, short, yes, 3-6_days, an agent's id number)."
    )
    direction: InsightDirection = strawberry.field(description="Better or worse than the rest.")
    audience: InsightAudience = strawberry.field(description="Who it is for.")
    statement: str = strawberry.field(description="What was found, with its numbers.")
    advice: str = strawberry.field(description="What to do about it, for its audience.")
    effect: CoachingEffect = strawberry.field(description="The effect and how sure it is.")
    evidence: CoachingEvidence = strawberry.field(description="What it rests on.")
    period_start: dt.date = strawberry.field(description="First day of the actions mined (UTC).")
    period_end: dt.date = strawberry.field(
        description="Last day of the actions mined (UTC): the last day whose outcome windows "
        "had all closed."
    )
    expires_at: dt.datetime = strawberry.field(
        description="When it expires undecided (a later run that finds it again extends it)."
    )
    status: InsightStatus = strawberry.field(description="Where it stands.")
    decision: CoachingDecisionRecord | None = strawberry.field(
        description="The manager's decision; null while undecided."
    )
    follow_up: CoachingFollowUp | None = strawberry.field(
        description="Its effect after acting on it; null until enough later actions matured."
    )
    created_at: dt.datetime = strawberry.field(description="When it was raised.")
    updated_at: dt.datetime = strawberry.field(
        description="When a run or a person last changed it."
    )
    team_id: strawberry.Private[int]

    @strawberry.field(description="The team it is about.")
    async def team(self, info: Info) -> TeamType | None:
        row = await info.context.loaders.get(by_id(Team)).load(self.team_id)
        return TeamType.of(row) if row is not None else None

    @classmethod
    def of(cls, row: models.CoachingInsight) -> CoachingInsightType:
        evidence = row.evidence or {}
        level = row.confidence_level
        return cls(
            id=row.id,
            outcome_type=row.outcome_type,
            feature=row.feature,
            feature_value=row.feature_value,
            direction=models.InsightDirection(row.direction),
            audience=models.InsightAudience(row.audience),
            statement=row.statement,
            advice=row.advice,
            effect=CoachingEffect(
                measure=row.measure,
                rate=row.rate,
                baseline_rate=row.baseline_rate,
                difference=row.difference,
                interval=CoachingInterval(low=row.ci_low, high=row.ci_high, confidence_level=level),
                lift=row.lift,
                p_value=row.p_value,
                q_value=row.q_value,
                test=row.test,
                adjusted_odds_ratio=evidence.get("adjusted_odds_ratio"),
                adjusted_p_value=evidence.get("adjusted_p_value"),
            ),
            evidence=CoachingEvidence(
                n=row.sample_size,
                support=row.support,
                candidates_tested=int(evidence.get("candidates_tested", 0)),
                false_discovery_rate=float(evidence.get("fdr", 0.0)),
                min_support=int(evidence.get("min_support", 0)),
                example_action_ids=[int(i) for i in evidence.get("example_action_ids", [])],
            ),
            period_start=row.period_start,
            period_end=row.period_end,
            expires_at=row.expires_at,
            status=models.InsightStatus(row.status),
            decision=_decision(row),
            follow_up=_follow_up(row, level),
            created_at=row.created_at,
            updated_at=row.updated_at,
            team_id=row.team_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        viewer = info.context.require_viewer()

        def visible(row: models.CoachingInsight) -> CoachingInsightType | None:
            return cls.of(row) if visible_to(viewer, row) else None

        return await load_nodes(info, models.CoachingInsight, node_ids, visible, required=required)


def _decision(row: models.CoachingInsight) -> CoachingDecisionRecord | None:
    if row.decided_at is None:
        return None
    return CoachingDecisionRecord(
        decision=Decision(row.status),
        decided_at=row.decided_at,
        note=row.decision_note,
        decided_by_id=row.decided_by_id,
    )


def _follow_up(row: models.CoachingInsight, level: float) -> CoachingFollowUp | None:
    if (
        row.follow_up_n is None
        or row.follow_up_rate is None
        or row.follow_up_before_rate is None
        or row.follow_up_difference is None
        or row.follow_up_ci_low is None
        or row.follow_up_ci_high is None
        or row.follow_up_p_value is None
        or row.follow_up_share is None
        or row.follow_up_before_share is None
        or row.follow_up_period_end is None
        or row.follow_up_measured_at is None
    ):
        return None
    return CoachingFollowUp(
        n=row.follow_up_n,
        rate=row.follow_up_rate,
        before_rate=row.follow_up_before_rate,
        difference=row.follow_up_difference,
        interval=CoachingInterval(
            low=row.follow_up_ci_low, high=row.follow_up_ci_high, confidence_level=level
        ),
        p_value=row.follow_up_p_value,
        share=row.follow_up_share,
        before_share=row.follow_up_before_share,
        period_end=row.follow_up_period_end,
        measured_at=row.follow_up_measured_at,
    )
