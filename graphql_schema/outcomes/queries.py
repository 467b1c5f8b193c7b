"""GraphQL: `outcomes` (the viewer's outcomes) and `labelQueue` (outcomes waiting for a
person), as Relay connections."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.outcomes.repository import label_queue_page, list_outcomes
from backend.pagination import DEFAULT_PAGE
from graphql_schema.filters import After, First, OutcomeFilter, outcome_filter
from graphql_schema.outcomes.types import OutcomeType
from graphql_schema.relay import Connection, selects
from graphql_schema.reviews.queries import AgentArgument, TeamArgument, optional_id


@strawberry.type
class OutcomesQuery:
    @strawberry.field(
        description="The outcomes the viewer may see, newest first (by `openedAt`). API keys: "
        "the agent's key reads its own agent's outcomes; other keys need `read:outcomes`."
    )
    async def outcomes(
        self,
        info: Info,
        filter: Annotated[
            OutcomeFilter | None,
            strawberry.argument(description="Conditions the outcomes must meet."),
        ] = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Connection[OutcomeType]:
        viewer = info.context.require_viewer()
        where = outcome_filter(filter)
        async with info.context.state.reads() as session:
            page = await list_outcomes(
                session,
                viewer,
                where=where,
                first=first,
                after=after,
                count=selects(info, "totalCount"),
            )
        return Connection.of(page, OutcomeType.of, info)

    @strawberry.field(
        description="Outcomes waiting for a person's label (status NEEDS_LABEL) in the "
        "viewer's scope, OLDEST first (by `openedAt`), as a work queue is worked: only one "
        "agent's with `agentId`, only one team's agents' with `teamId` (not both: `invalid` on "
        "`teamId`; an agent or team out of your scope is `not_found`, as an unknown one). For "
        "people (reps, managers, executives, admins); API keys are refused."
    )
    async def label_queue(
        self,
        info: Info,
        first: First = DEFAULT_PAGE,
        after: After = None,
        agent_id: AgentArgument = None,
        team_id: TeamArgument = None,
    ) -> Connection[OutcomeType]:
        viewer = info.context.require_viewer()
        agent = optional_id(agent_id, "Agent", "agentId")
        team = optional_id(team_id, "Team", "teamId")
        async with info.context.state.reads() as session:
            page = await label_queue_page(
                session,
                viewer,
                first=first,
                after=after,
                count=selects(info, "totalCount"),
                agent_id=agent,
                team_id=team,
            )
        return Connection.of(page, OutcomeType.of, info)
