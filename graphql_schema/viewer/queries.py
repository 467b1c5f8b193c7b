"""GraphQL: `viewer` and `node(id:)`."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from backend.errors import DomainError, ErrorCode
from graphql_schema.nodes import issued_row_id
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
        id: strawberry.ID,
    ) -> relay.Node | None:
        info.context.require_viewer()
        try:
            global_id = relay.GlobalID.from_id(id)
        except ValueError:
            raise DomainError(ErrorCode.INVALID, "is not a global id", field="id") from None
        if not issued_row_id(global_id.node_id):
            return None  # beyond BIGINT, or not digits: no row has it, as for an unknown id
        try:
            return await global_id.resolve_node(info, required=False)
        except (KeyError, ValueError, TypeError):  # a type name we do not have
            return None
