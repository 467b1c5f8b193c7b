"""GraphQL: `agents`."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from backend.agents.service import list_agents
from graphql_schema.agents.types import AgentType


async def visible_agents(info: Info) -> list[AgentType]:
    viewer = info.context.require_viewer()
    async with info.context.state.sessions() as session:
        rows = await list_agents(session, viewer)
    return [AgentType.of(row) for row in rows]


@strawberry.type
class AgentsQuery:
    @strawberry.field(description="The agents the viewer may see, by name.")
    async def agents(self, info: Info) -> list[AgentType]:
        return await visible_agents(info)
