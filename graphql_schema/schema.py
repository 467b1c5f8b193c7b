"""The GraphQL schema: the root types. Domains add their fields here as they arrive."""

from __future__ import annotations

import strawberry

from graphql_schema.health.queries import HealthQuery


@strawberry.type
class Query(HealthQuery):
    pass


schema = strawberry.Schema(query=Query)
