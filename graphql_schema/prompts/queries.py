"""GraphQL: `feedbackPrompts` (the prompts a viewer sees, by state)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.pagination import DEFAULT_PAGE
from backend.prompts import service
from backend.prompts.models import PromptState as State
from graphql_schema.filters import After, First
from graphql_schema.prompts.types import FeedbackPromptType, PromptState
from graphql_schema.relay import Connection
from graphql_schema.reviews.queries import AgentArgument, TeamArgument, optional_id


@strawberry.type
class PromptsQuery:
    @strawberry.field(
        description="Feedback prompts in one state: OPEN ones oldest first (the next to expire "
        "on top), ANSWERED and EXPIRED ones newest first. A rep sees the prompts about their "
        "agents, a manager their teams', executives and admins all; only those about one agent "
        "with `agentId`, about one team's agents with `teamId` (not both: `invalid` on "
        "`teamId`; an agent or team out of your scope is `not_found`, as an unknown one). API "
        "keys need `read:feedback`; the agent's own key has none."
    )
    async def feedback_prompts(
        self,
        info: Info,
        state: Annotated[
            PromptState,
            strawberry.argument(description="Which prompts (default: still open)."),
        ] = State.OPEN,
        assignee_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only the prompts asking this person (a User id)."),
        ] = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
        agent_id: AgentArgument = None,
        team_id: TeamArgument = None,
    ) -> Connection[FeedbackPromptType]:
        viewer = info.context.require_viewer()
        assignee = optional_id(assignee_id, "User", "assigneeId")
        agent = optional_id(agent_id, "Agent", "agentId")
        team = optional_id(team_id, "Team", "teamId")
        async with info.context.state.sessions() as session:
            page = await service.prompts_page(
                session,
                viewer,
                state=State(state),
                user_id=assignee,
                first=first,
                after=after,
                agent_id=agent,
                team_id=team,
            )
        return Connection.of(page, FeedbackPromptType.of, info)
