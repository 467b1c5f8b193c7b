"""GraphQL: `decideCoachingInsight` (a manager acts on or dismisses an insight) and
`refreshCoachingInsights` (mine a team now)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.coaching import service
from backend.coaching.models import NOTE_MAX_LENGTH, CoachingInsight
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from graphql_schema.coaching.types import CoachingInsightType, DecisionEnum
from graphql_schema.errors import UserError
from graphql_schema.inputs import attempt, decode_id, with_error_paths


@strawberry.input(
    description=with_error_paths("A manager's decision on a coaching insight.", "note")
)
class DecideCoachingInsightInput:
    id: strawberry.ID = strawberry.field(description="The insight (CoachingInsight id).")
    decision: DecisionEnum = strawberry.field(description="ACTED_ON or DISMISSED.")
    note: str | None = strawberry.field(
        default=None,
        description=f"Why, or what was done; at most {NOTE_MAX_LENGTH} characters.",
    )


@strawberry.type(description="The insight after `decideCoachingInsight`, or what to fix.")
class DecideCoachingInsightPayload:
    insight: CoachingInsightType | None = strawberry.field(
        default=None, description="The insight as it now stands; null when rejected."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when it was done."
    )


@strawberry.input(description=with_error_paths("Which team to mine now.", "teamId"))
class RefreshCoachingInsightsInput:
    team_id: strawberry.ID = strawberry.field(description="The team (its id).")


@strawberry.type(description="What `refreshCoachingInsights` raised, or what to fix.")
class RefreshCoachingInsightsPayload:
    raised: int | None = strawberry.field(
        default=None,
        description="How many new insights the run raised (undecided ones found again are "
        "refreshed, not counted); null when rejected.",
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when it ran."
    )


async def _decide(info: Info, viewer: Viewer, data: DecideCoachingInsightInput) -> CoachingInsight:
    insight_id = decode_id(data.id, "CoachingInsight", "id")
    async with transaction(info.context.state.sessions) as session:
        return await service.decide_insight(
            session,
            viewer,
            insight_id=insight_id,
            decision=DecisionEnum(data.decision).value,
            note=data.note,
            now=info.context.now(),
        )


async def _refresh(info: Info, viewer: Viewer, data: RefreshCoachingInsightsInput) -> int:
    team_id = decode_id(data.team_id, "Team", "teamId")
    async with transaction(info.context.state.sessions) as session:
        return await service.refresh_insights(
            session, viewer, team_id=team_id, now=info.context.now()
        )


@strawberry.type
class CoachingMutation:
    @strawberry.mutation(
        description="Mark a coaching insight ACTED_ON (its effect is then measured on later "
        "actions) or DISMISSED (not raised again for 12 weeks unless its evidence clearly "
        "grows), with an optional note; who and when are kept. The team's managers and "
        "admins. The same decision again changes nothing; another decision after one is a "
        "conflict."
    )
    async def decide_coaching_insight(
        self,
        info: Info,
        input: Annotated[
            DecideCoachingInsightInput, strawberry.argument(description="The decision.")
        ],
    ) -> DecideCoachingInsightPayload:
        insight, errors = await attempt(info, input, lambda viewer: _decide(info, viewer, input))
        if insight is None:
            return DecideCoachingInsightPayload(errors=errors)
        return DecideCoachingInsightPayload(insight=CoachingInsightType.of(insight))

    @strawberry.mutation(
        description="Mine a team's coaching insights now, as the weekly job does: the last 8 "
        "weeks of actions whose outcome windows have all closed. A rerun over the same days "
        "raises nothing new. The team's managers and admins."
    )
    async def refresh_coaching_insights(
        self,
        info: Info,
        input: Annotated[
            RefreshCoachingInsightsInput, strawberry.argument(description="Which team.")
        ],
    ) -> RefreshCoachingInsightsPayload:
        raised, errors = await attempt(info, input, lambda viewer: _refresh(info, viewer, input))
        if raised is None:
            return RefreshCoachingInsightsPayload(errors=errors)
        return RefreshCoachingInsightsPayload(raised=raised)
