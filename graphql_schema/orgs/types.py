"""GraphQL types: organisation, team, user."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeAlias

import strawberry
from strawberry import relay
from strawberry.types import Info

from backend.orgs import models
from graphql_schema.loaders import by_id
from graphql_schema.nodes import load_nodes


@strawberry.type(name="Organization", description="A customer organisation.")
class OrganizationType(relay.Node):
    id: relay.NodeID[int]
    slug: str = strawberry.field(description="Short unique name, e.g. `demo`.")
    name: str = strawberry.field(description="Display name.")
    timezone: str = strawberry.field(description="IANA time zone its days are counted in.")

    @classmethod
    def of(cls, row: models.Organization) -> OrganizationType:
        return cls(id=row.id, slug=row.slug, name=row.name, timezone=row.timezone)

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, models.Organization, node_ids, cls.of, required=required)


@strawberry.type(name="Team", description="A sales team: reps, their agents, a manager.")
class TeamType(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Display name.")

    @classmethod
    def of(cls, row: models.Team) -> TeamType:
        return cls(id=row.id, name=row.name)

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, models.Team, node_ids, cls.of, required=required)


# Each GraphQL enum is the domain's enum registered with Strawberry; the alias names it
# in annotations (a call's result is no type to mypy).
strawberry.enum(
    models.Role, name="Role", description="What a person does, and so what they may see."
)
Role: TypeAlias = models.Role


@strawberry.type(name="User", description="A person: rep, manager, executive or admin.")
class UserType(relay.Node):
    id: relay.NodeID[int]
    email: str = strawberry.field(description="Login e-mail address.")
    name: str = strawberry.field(description="Display name.")
    role: Role = strawberry.field(description="Their role.")
    team_id: strawberry.Private[int | None]

    @strawberry.field(description="Their team (a rep's team; none for executives).")
    async def team(self, info: Info) -> TeamType | None:
        if self.team_id is None:
            return None
        row = await info.context.loaders.get(by_id(models.Team)).load(self.team_id)
        return TeamType.of(row) if row is not None else None

    @classmethod
    def of(cls, row: models.User) -> UserType:
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            role=models.Role(row.role),
            team_id=row.team_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, models.User, node_ids, cls.of, required=required)
