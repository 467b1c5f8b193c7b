"""GraphQL types of administration: API keys (never their secret) and the audit trail."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from backend.auth.models import ApiClient
from backend.orgs.models import AdminAuditEntry

API_KEY = "ApiKey"  # the type name inside an API key's global id


@strawberry.enum(name="ApiKeyKind", description="Whom an API key acts for.")
class ApiKeyKind(Enum):
    AGENT = "agent"
    PARTNER = "partner"


@strawberry.type(
    description="An API key's metadata: the secret itself is shown once, when the key is "
    "created or rotated, and never stored."
)
class ApiKey:
    id: relay.GlobalID = strawberry.field(description="Its global id (type `ApiKey`).")
    name: str = strawberry.field(description="Its label.")
    kind: ApiKeyKind = strawberry.field(description="Agent or partner key.")
    prefix: str = strawberry.field(description="The public part that starts the key.")
    scopes: list[str] = strawberry.field(description="What it may do.")
    agent_id: relay.GlobalID | None = strawberry.field(
        description="The agent an agent key acts for."
    )
    created_at: dt.datetime = strawberry.field(description="When it was created.")
    last_used_at: dt.datetime | None = strawberry.field(
        description="When it last authenticated a request (null: never)."
    )
    revoked_at: dt.datetime | None = strawberry.field(
        description="When it was revoked (null: live)."
    )

    @classmethod
    def of(cls, row: ApiClient) -> ApiKey:
        return cls(
            id=relay.GlobalID(API_KEY, str(row.id)),
            name=row.name,
            kind=ApiKeyKind(row.kind),
            prefix=row.key_prefix,
            scopes=list(row.scopes),
            agent_id=relay.GlobalID("Agent", str(row.agent_id)) if row.agent_id else None,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


_TYPE_NAMES = {
    "organization": "Organization",
    "team": "Team",
    "user": "User",
    "agent": "Agent",
    "api_key": API_KEY,
}


@strawberry.type(
    name="AdminAuditEntry", description="One administrative change: who, when, what, to which row."
)
class AdminAuditEntryType:
    id: strawberry.ID = strawberry.field(description="Its position in the trail (a cursor).")
    change: str = strawberry.field(
        description="What was done: `organization.created`, `team.created`, `user.invited`, "
        "`user.deactivated`, `agent.created`, `agent.deactivated`, `api_key.created`, "
        "`api_key.rotated` or `api_key.revoked`."
    )
    at: dt.datetime = strawberry.field(description="When.")
    actor_user_id: relay.GlobalID | None = strawberry.field(
        description="The administrator who did it (null: the operator, at the command line, "
        "or an API key)."
    )
    target_id: relay.GlobalID = strawberry.field(description="The row it changed.")
    details: JSON = strawberry.field(description="What was set (never a secret).")

    @classmethod
    def of(cls, row: AdminAuditEntry) -> AdminAuditEntryType:
        actor = row.actor_user_id
        details: Any = row.details
        return cls(
            id=strawberry.ID(str(row.id)),
            change=row.change,
            at=row.at,
            actor_user_id=relay.GlobalID("User", str(actor)) if actor is not None else None,
            target_id=relay.GlobalID(_TYPE_NAMES[row.target_type], str(row.target_id)),
            details=details,
        )
