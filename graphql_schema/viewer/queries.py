"""GraphQL: `viewer` and `node(id:)`."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from graphql_schema.viewer.types import ViewerType


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="Who is asking. Errors with `unauthenticated` when nobody is.")
    def viewer(self, info: Info) -> ViewerType:
        return ViewerType.of(info.context.require_viewer())

    @strawberry.field(
        description="Any object by its global id; an id the viewer may not see is null, exactly "
        "like an id that does not exist."
    )
    async def node(
        self,
        info: Info,
        id: relay.GlobalID,
    ) -> relay.Node | None:
        info.context.require_viewer()
        try:
            return await id.resolve_node(info, required=False)
        except (KeyError, ValueError, TypeError):  # a type name we do not have
            return None
