"""GraphQL type: Viewer (who is asking, and what they may see and do)."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.types import Info

from backend.orgs.models import Organization, User
from backend.viewer import Viewer
from graphql_schema.agents.types import AgentType
from graphql_schema.loaders import by_id
from graphql_schema.orgs.types import OrganizationType, UserType


@strawberry.enum(name="ViewerRole", description="The kind of caller.")
class ViewerRoleEnum(Enum):
    REP = "rep"
    MANAGER = "manager"
    EXECUTIVE = "executive"
    ADMIN = "admin"
    AGENT = "agent"
    PARTNER = "partner"


@strawberry.type(name="Viewer", description="Who is asking: a person, the agent, or a partner.")
class ViewerType:
    role: ViewerRoleEnum = strawberry.field(description="The kind of caller.")
    scopes: list[str] = strawberry.field(description="An API key's scopes (empty for people).")
    sees_whole_organization: bool = strawberry.field(
        description="True for executives, admins and partners."
    )
    viewer: strawberry.Private[Viewer]

    @strawberry.field(description="The organisation everything is scoped to.")
    async def organization(self, info: Info) -> OrganizationType | None:
        row = await info.context.loaders.get(by_id(Organization)).load(self.viewer.organization_id)
        return OrganizationType.of(row) if row is not None else None

    @strawberry.field(description="The person, when a person is asking.")
    async def user(self, info: Info) -> UserType | None:
        if self.viewer.user_id is None:
            return None
        row = await info.context.loaders.get(by_id(User)).load(self.viewer.user_id)
        return UserType.of(row) if row is not None else None

    @strawberry.field(
        description="The agents this viewer may see (all of the organisation's for "
        "organisation-wide viewers)."
    )
    async def agents(self, info: Info) -> list[AgentType]:
        from graphql_schema.agents.queries import visible_agents

        return await visible_agents(info)

    @classmethod
    def of(cls, viewer: Viewer) -> ViewerType:
        return cls(
            role=ViewerRoleEnum(viewer.role.value),
            scopes=sorted(viewer.scopes),
            sees_whole_organization=viewer.sees_whole_organization,
            viewer=viewer,
        )
