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


# What API keys see of people (docs/api.md, "Who is calling"): the name of a person attached to
# a row their scopes let them read (an agent's owner, a feedback's author), nothing more
# without `read:users`: looking a person up by id, their role and team need it, their e-mail
# address `read:users:email` too (or `write:feedback`: a key relaying people's feedback names
# them by e-mail, so it knows the addresses already). People see their organisation's users.
USERS_SCOPE = "read:users"
EMAIL_SCOPE = "read:users:email"
RELAYS_FEEDBACK = "write:feedback"


def _require_scopes(info: Info, *scopes: str) -> None:
    viewer = info.context.require_viewer()
    for scope in scopes:
        viewer.require_scope(scope)


def _require_email_scopes(info: Info) -> None:
    if not info.context.require_viewer().has_scope(RELAYS_FEEDBACK):
        _require_scopes(info, USERS_SCOPE, EMAIL_SCOPE)


@strawberry.type(name="User", description="A person: rep, manager, executive or admin.")
class UserType(relay.Node):
    id: relay.NodeID[int]
    row_email: strawberry.Private[str]
    row_name: strawberry.Private[str]
    row_role: strawberry.Private[Role]
    team_id: strawberry.Private[int | None]

    @strawberry.field(description="Login e-mail address.")
    def email(self, info: Info) -> str:
        _require_email_scopes(info)
        return self.row_email

    @strawberry.field(description="Display name.")
    def name(self) -> str:
        return self.row_name

    @strawberry.field(description="Their role.")
    def role(self, info: Info) -> Role:
        _require_scopes(info, USERS_SCOPE)
        return self.row_role

    @strawberry.field(description="Their team (a rep's team; none for executives).")
    async def team(self, info: Info) -> TeamType | None:
        _require_scopes(info, USERS_SCOPE)
        if self.team_id is None:
            return None
        row = await info.context.loaders.get(by_id(models.Team)).load(self.team_id)
        return TeamType.of(row) if row is not None else None

    @classmethod
    def of(cls, row: models.User) -> UserType:
        return cls(
            id=row.id,
            row_email=row.email,
            row_name=row.name,
            row_role=models.Role(row.role),
            team_id=row.team_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        if not info.context.require_viewer().has_scope(USERS_SCOPE):
            node_ids = ["-1" for _ in node_ids]  # a key without the scope knows nobody
        return await load_nodes(info, models.User, node_ids, cls.of, required=required)
