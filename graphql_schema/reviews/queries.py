"""GraphQL: `reviewQueue`, `reviewProgress`, `reviewAgreement` (threads themselves: `node`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.pagination import DEFAULT_PAGE
from backend.reviews import agreement, service
from backend.reviews.models import ReviewStatus as Status
from graphql_schema.filters import After, First
from graphql_schema.inputs import decode_id
from graphql_schema.relay import Connection
from graphql_schema.reviews.types import (
    ReviewAgreementType,
    ReviewAssignmentType,
    ReviewerProgressType,
    ReviewStatus,
)

AgentArgument = Annotated[
    strawberry.ID | None, strawberry.argument(description="Only this agent (its global id).")
]
TeamArgument = Annotated[
    strawberry.ID | None,
    strawberry.argument(description="Only this team's agents (its global id)."),
]
From = Annotated[
    dt.date | None,
    strawberry.argument(
        name="from", description="First day (UTC), inclusive; default: 29 days before `to`."
    ),
]
To = Annotated[
    dt.date | None,
    strawberry.argument(
        description="Last day (UTC), inclusive; default: today. At most 400 days after `from`."
    ),
]


def optional_id(value: str | None, type_name: str, field: str) -> int | None:
    return decode_id(value, type_name, field) if value is not None else None


@strawberry.type
class ReviewsQuery:
    @strawberry.field(
        description="Review assignments, oldest first (a work queue): a rep's own; a manager's "
        "own and those of their teams' threads; executives' and admins' all. A thread appears "
        "at most once per reviewer. People only."
    )
    async def review_queue(
        self,
        info: Info,
        reviewer_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this reviewer's assignments (a User id)."),
        ] = None,
        status: Annotated[
            ReviewStatus,
            strawberry.argument(
                description="Assignments in this state (default: still to review)."
            ),
        ] = Status.ASSIGNED,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Connection[ReviewAssignmentType]:
        viewer = info.context.require_viewer()
        reviewer = optional_id(reviewer_id, "User", "reviewerId")
        async with info.context.state.sessions() as session:
            page = await service.review_queue(
                session,
                viewer,
                reviewer_id=reviewer,
                status=Status(status).value,
                first=first,
                after=after,
            )
        return Connection.of(page, ReviewAssignmentType.of, info)

    @strawberry.field(
        description="Per reviewer: assignments open, done and skipped, over the assignments "
        "the viewer sees (as in `reviewQueue`). People only."
    )
    async def review_progress(
        self,
        info: Info,
        team_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only assignments of this team's threads (its global id)."
            ),
        ] = None,
    ) -> list[ReviewerProgressType]:
        viewer = info.context.require_viewer()
        team = optional_id(team_id, "Team", "teamId")
        async with info.context.state.sessions() as session:
            rows = await service.review_progress(session, viewer, team_id=team)
        return [ReviewerProgressType.of(row) for row in rows]

    @strawberry.field(
        description="How far reviewers agree on the threads several reviewed (reviews given in "
        "the range, threads the viewer sees): pairwise differences, exact agreement, weighted "
        "kappa, per reviewer pair. API keys need `read:feedback`."
    )
    async def review_agreement(
        self,
        info: Info,
        agent_id: AgentArgument = None,
        team_id: TeamArgument = None,
        from_: From = None,
        to: To = None,
    ) -> ReviewAgreementType:
        viewer = info.context.require_viewer()
        agent = optional_id(agent_id, "Agent", "agentId")
        team = optional_id(team_id, "Team", "teamId")
        async with info.context.state.sessions() as session:
            result = await agreement.review_agreement(
                session,
                viewer,
                agent_id=agent,
                team_id=team,
                since=from_,
                until=to,
                today=info.context.today(),
            )
        return ReviewAgreementType.of(result)
