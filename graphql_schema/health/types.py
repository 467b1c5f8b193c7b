"""GraphQL types of the health query."""

from __future__ import annotations

import strawberry


@strawberry.type(description="Whether the service and its dependencies are reachable.")
class Health:
    ok: bool = strawberry.field(description="True when everything below is reachable.")
    database: str = strawberry.field(description="'ok' or what went wrong reaching the database")
    broker: str = strawberry.field(description="'ok', 'in-process', or what went wrong")
    version: str = strawberry.field(description="The running version of the service.")
