"""GraphQL: `feedback`, the ratings the viewer may see, and `feedbackGiven`, those the viewer
gave, as Relay connections."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.feedback.repository import list_feedback, list_feedback_given
from backend.pagination import DEFAULT_PAGE
from graphql_schema.feedback.types import FeedbackType
from graphql_schema.filters import After, FeedbackFilter, First, feedback_filter
from graphql_schema.relay import Connection


@strawberry.type
class FeedbackQuery:
    @strawberry.field(
        description="The feedback the viewer may see, newest first (by `createdAt`). API keys "
        "need `read:feedback`."
    )
    async def feedback(
        self,
        info: Info,
        filter: Annotated[
            FeedbackFilter | None,
            strawberry.argument(description="Conditions the feedback must meet."),
        ] = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Connection[FeedbackType]:
        viewer = info.context.require_viewer()
        where = feedback_filter(filter)
        async with info.context.state.sessions() as session:
            page = await list_feedback(session, viewer, where=where, first=first, after=after)
        return Connection.of(page, FeedbackType.of, info)

    @strawberry.field(
        description="The feedback you gave, newest first (by `createdAt`), on any agent (a peer "
        "review of a teammate's thread too): reactions, ratings, answered prompts and thread "
        "reviews. The filter narrows it as in `feedback`. People only, not API keys."
    )
    async def feedback_given(
        self,
        info: Info,
        filter: Annotated[
            FeedbackFilter | None,
            strawberry.argument(description="Conditions the feedback must meet."),
        ] = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Connection[FeedbackType]:
        viewer = info.context.require_viewer()
        where = feedback_filter(filter)
        async with info.context.state.sessions() as session:
            page = await list_feedback_given(session, viewer, where=where, first=first, after=after)
        return Connection.of(page, FeedbackType.of, info)
