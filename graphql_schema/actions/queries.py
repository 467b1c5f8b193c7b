"""GraphQL: `actions`, the viewer's actions as a Relay connection."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.actions.repository import list_actions
from backend.outcomes.repository import list_actions_with_outcomes
from backend.pagination import DEFAULT_PAGE
from graphql_schema.actions.types import ActionType
from graphql_schema.filters import ActionFilter, After, First, action_filter
from graphql_schema.relay import Connection, selects


@strawberry.type
class ActionsQuery:
    @strawberry.field(
        description="The actions the viewer may see, newest first (by `occurredAt`). API keys: "
        "the agent's key reads its own agent's actions; other keys need `read:actions`."
    )
    async def actions(
        self,
        info: Info,
        filter: Annotated[
            ActionFilter | None,
            strawberry.argument(description="Conditions the actions must meet."),
        ] = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Connection[ActionType]:
        viewer = info.context.require_viewer()
        where = action_filter(filter)
        count = selects(info, "totalCount")
        async with info.context.state.reads() as session:
            if selects(info, "edges", "node", "outcomes"):  # read with the page, not by loader
                with_outcomes = await list_actions_with_outcomes(
                    session, viewer, where=where, first=first, after=after, count=count
                )
                return Connection.of(with_outcomes, ActionType.with_outcomes, info)
            page = await list_actions(
                session, viewer, where=where, first=first, after=after, count=count
            )
        return Connection.of(page, ActionType.of, info)
