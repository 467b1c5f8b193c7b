"""GraphQL type: Agent (one Sales Agent instance)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from backend.agents.models import Agent
from backend.orgs.models import Team, User
from graphql_schema.calibration.loaders import policies_by_agent
from graphql_schema.loaders import by_id
from graphql_schema.nodes import load_nodes
from graphql_schema.orgs.types import TeamType, UserType

if TYPE_CHECKING:
    from graphql_schema.calibration.types import PolicyType

LazyPolicy = Annotated["PolicyType", strawberry.lazy("graphql_schema.calibration.types")]


@strawberry.type(name="Agent", description="A Sales Agent instance, owned by a rep, in a team.")
class AgentType(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Display name.")
    active: bool = strawberry.field(description="Whether it is working.")
    owner_id: strawberry.Private[int]
    team_id: strawberry.Private[int]

    @strawberry.field(description="The rep who owns it.")
    async def owner(self, info: Info) -> UserType | None:
        row = await info.context.loaders.get(by_id(User)).load(self.owner_id)
        return UserType.of(row) if row is not None else None

    @strawberry.field(description="The team it works in.")
    async def team(self, info: Info) -> TeamType | None:
        row = await info.context.loaders.get(by_id(Team)).load(self.team_id)
        return TeamType.of(row) if row is not None else None

    @strawberry.field(
        description="Its policies, one per action type it has acted on (by action type), each "
        "with its thresholds, version and calibrated-confidence map; history: `policyHistory`. "
        "API keys: `read:policy` (the agent's own), `read:calibration` (partners); without "
        "it, null with a `forbidden` error."
    )
    async def policies(self, info: Info) -> list[LazyPolicy] | None:
        from graphql_schema.calibration.types import PolicyType  # imports this module

        rows = await info.context.loaders.get(policies_by_agent).load(self.id)
        return [PolicyType.of(policy, recalibration) for policy, recalibration in rows]

    @classmethod
    def of(cls, row: Agent) -> AgentType:
        return cls(
            id=row.id, name=row.name, active=row.active, owner_id=row.owner_id, team_id=row.team_id
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, Agent, node_ids, cls.of, required=required)
