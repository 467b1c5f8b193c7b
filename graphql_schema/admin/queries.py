"""GraphQL: `apiKeys` and `adminAuditTrail` (administrators)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend import administration
from backend.errors import DomainError, ErrorCode
from graphql_schema.admin.types import AdminAuditEntryType, ApiKey

MAX_AUDIT_PAGE = 100


@strawberry.type
class AdminQuery:
    @strawberry.field(
        description="The organisation's API keys, newest first, revoked ones included "
        "(administrators; others get `forbidden`). Never the secret."
    )
    async def api_keys(self, info: Info) -> list[ApiKey]:
        viewer = info.context.require_viewer()
        async with info.context.state.sessions() as session:
            rows = await administration.list_api_keys(session, viewer)
        return [ApiKey.of(row) for row in rows]

    @strawberry.field(
        description="The organisation's administrative changes, newest first (administrators)."
    )
    async def admin_audit_trail(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="How many (1-100).")] = 50,
        before: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only entries older than this entry's `id`."),
        ] = None,
    ) -> list[AdminAuditEntryType]:
        viewer = info.context.require_viewer()
        if not 1 <= first <= MAX_AUDIT_PAGE:
            raise DomainError(ErrorCode.INVALID, "first must be 1-100", field="first")
        if before is not None and not (before.isdigit() and len(before) < 19):
            raise DomainError(ErrorCode.INVALID, "before is no entry id", field="before")
        async with info.context.state.sessions() as session:
            rows = await administration.audit_trail(
                session, viewer, limit=first, before_id=int(before) if before else None
            )
        return [AdminAuditEntryType.of(row) for row in rows]
