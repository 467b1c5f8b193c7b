"""GraphQL: `coachingInsights` (a team's coaching insights, newest first)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.coaching import service
from backend.pagination import DEFAULT_PAGE
from graphql_schema.coaching.types import CoachingInsightType, InsightAudience, InsightStatus
from graphql_schema.filters import After, First
from graphql_schema.inputs import decode_id
from graphql_schema.relay import Connection


@strawberry.type
class CoachingQuery:
    @strawberry.field(
        description="A team's coaching insights, newest first. The team's managers, executives "
        "and admins see every insight; the team's reps see the advice meant for reps (audience "
        "REP). A team you do not see is not found. People only, not API keys."
    )
    async def coaching_insights(
        self,
        info: Info,
        team_id: Annotated[strawberry.ID, strawberry.argument(description="The team (its id).")],
        status: Annotated[
            InsightStatus | None,
            strawberry.argument(description="Only insights in this state (default: all)."),
        ] = None,
        audience: Annotated[
            InsightAudience | None,
            strawberry.argument(description="Only insights for this audience (default: all)."),
        ] = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Connection[CoachingInsightType]:
        viewer = info.context.require_viewer()
        team = decode_id(team_id, "Team", "teamId")
        async with info.context.state.sessions() as session:
            page = await service.insights_page(
                session,
                viewer,
                team_id=team,
                status=status,
                audience=audience,
                first=first,
                after=after,
            )
        return Connection.of(page, CoachingInsightType.of, info)
