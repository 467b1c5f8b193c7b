"""GraphQL: `health`, answered by the same checks as GET /readyz."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from backend.health import check_readiness
from graphql_schema.health.types import Health


@strawberry.type
class HealthQuery:
    @strawberry.field(description="Reachability of the database and the broker.")
    async def health(self, info: Info) -> Health:
        report = await check_readiness(info.context.state)
        return Health(
            ok=report.ok, database=report.database, broker=report.broker, version=report.version
        )
