"""GraphQL: `feedbackSummary`, the quality metrics of the feedback given in a range (mean
rating and share positive, escalation appropriateness, rating vs outcome vs confidence)."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from backend.agents.models import Agent
from backend.feedback import summary as metrics
from backend.feedback.models import FeedbackTarget as Target
from graphql_schema.agents.types import AgentType
from graphql_schema.analytics.types import RateEstimate
from graphql_schema.feedback.types import FeedbackTarget
from graphql_schema.loaders import by_id
from graphql_schema.reviews.queries import AgentArgument, From, TeamArgument, To, optional_id
from graphql_schema.reviews.types import number


@strawberry.type(
    description="A mean rating on its target's scale (thumbs: the share up; "
    "actions and threads: 1..5) with its 95% interval (Wilson on the "
    "rating rescaled to [0, 1], mapped back)."
)
class RatingMean:
    count: int = strawberry.field(description="Ratings.")
    mean: float | None = strawberry.field(description="Their mean; null without ratings.")
    lower: float | None = strawberry.field(description="Lower end of the 95% interval.")
    upper: float | None = strawberry.field(description="Upper end of the 95% interval.")

    @classmethod
    def of(cls, value: metrics.RatingMean) -> RatingMean:
        return cls(
            count=value.count,
            mean=number(value.mean),
            lower=number(value.lower),
            upper=number(value.upper),
        )


@strawberry.type(
    description="The feedback on one agent's work of one kind: a target type and, "
    "for messages and actions, an action type."
)
class FeedbackGroupSummary:
    target_type: FeedbackTarget = strawberry.field(
        description="What was rated: messages (thumbs), actions or threads (1..5)."
    )
    action_type: str | None = strawberry.field(
        description="The action type rated (of the message's action for thumbs); null for "
        "thread reviews and messages of no action."
    )
    mean_rating: RatingMean = strawberry.field(description="Mean rating with its interval.")
    positive: RateEstimate = strawberry.field(
        description="Share positive (thumb up, or 4..5) with its Wilson interval."
    )
    agent_id: strawberry.Private[int]

    @strawberry.field(description="The agent rated.")
    async def agent(self, info: Info) -> AgentType | None:
        row = await info.context.loaders.get(by_id(Agent)).load(self.agent_id)
        return AgentType.of(row) if row is not None else None

    @classmethod
    def of(cls, value: metrics.FeedbackGroup) -> FeedbackGroupSummary:
        return cls(
            target_type=Target(value.target_type),
            action_type=value.action_type,
            mean_rating=RatingMean.of(value.mean),
            positive=RateEstimate.of(value.positive),
            agent_id=value.agent_id,
        )


@strawberry.type(
    description="Two of the three judgements of an action (people's rating, "
    "resolved outcome, agent's confidence) where both exist."
)
class JudgementPair:
    paired: int = strawberry.field(description="Actions with both.")
    same_side: RateEstimate = strawberry.field(
        description="Of those where both take a side (above or below 0.5), the share on the "
        "same side, with its Wilson interval."
    )
    correlation: float | None = strawberry.field(
        description="Pearson correlation of the two (on [0, 1]); null when undefined."
    )

    @classmethod
    def of(cls, value: metrics.PairAgreement) -> JudgementPair:
        return cls(
            paired=value.paired,
            same_side=RateEstimate.of(value.same_side),
            correlation=number(value.correlation),
        )


@strawberry.type(
    description="People's rating (normalised to [0, 1]: thumbs 0/1, 1..5 as "
    "(r - 1) / 4), the resolved calibrating outcome and the agent's "
    "stated confidence, over the actions rated in the range."
)
class ThreeWayAgreement:
    actions: int = strawberry.field(description="Actions rated in the range.")
    complete: int = strawberry.field(
        description="Of which with a resolved outcome too, so all three judgements exist."
    )
    disagreements: int = strawberry.field(
        description="Actions whose rating takes a side that the outcome or the confidence "
        "contradicts."
    )
    rating_outcome: JudgementPair = strawberry.field(description="Rating against outcome.")
    rating_confidence: JudgementPair = strawberry.field(description="Rating against confidence.")
    outcome_confidence: JudgementPair = strawberry.field(description="Outcome against confidence.")

    @classmethod
    def of(cls, value: metrics.ThreeWayAgreement) -> ThreeWayAgreement:
        return cls(
            actions=value.actions,
            complete=value.complete,
            disagreements=value.disagreements,
            rating_outcome=JudgementPair.of(value.rating_outcome),
            rating_confidence=JudgementPair.of(value.rating_confidence),
            outcome_confidence=JudgementPair.of(value.outcome_confidence),
        )


@strawberry.type(description="Quality metrics of the feedback given in a range.")
class FeedbackSummary:
    from_: dt.date = strawberry.field(name="from", description="First day (UTC), inclusive.")
    to: dt.date = strawberry.field(description="Last day (UTC), inclusive.")
    groups: list[FeedbackGroupSummary] = strawberry.field(
        description="Per agent, target type and action type."
    )
    escalation_appropriateness: RateEstimate = strawberry.field(
        description="Of the escalations rated 1..5, the share rated appropriate (mean 4 or "
        "more), with its Wilson interval."
    )
    agreement: ThreeWayAgreement = strawberry.field(
        description="Agreement of people's ratings, outcomes and the agent's confidence."
    )

    @classmethod
    def of(cls, value: metrics.FeedbackSummary) -> FeedbackSummary:
        return cls(
            from_=value.range.since,
            to=value.range.until,
            groups=[FeedbackGroupSummary.of(g) for g in value.groups],
            escalation_appropriateness=RateEstimate.of(value.escalations),
            agreement=ThreeWayAgreement.of(value.agreement),
        )


@strawberry.type
class FeedbackSummaryQuery:
    @strawberry.field(
        description="Quality metrics of the feedback given in the range on one agent, a team's "
        "agents, or all the agents you see. API keys need `read:feedback`."
    )
    async def feedback_summary(
        self,
        info: Info,
        agent_id: AgentArgument = None,
        team_id: TeamArgument = None,
        from_: From = None,
        to: To = None,
    ) -> FeedbackSummary:
        viewer = info.context.require_viewer()
        agent = optional_id(agent_id, "Agent", "agentId")
        team = optional_id(team_id, "Team", "teamId")
        async with info.context.state.sessions() as session:
            summary = await metrics.feedback_summary(
                session,
                viewer,
                agent_id=agent,
                team_id=team,
                since=from_,
                until=to,
                today=info.context.today(),
            )
        return FeedbackSummary.of(summary)
