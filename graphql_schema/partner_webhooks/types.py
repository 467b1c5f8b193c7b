"""GraphQL types: WebhookEndpoint (where an organisation's events go) and WebhookDelivery (one
event for one endpoint, with every attempt)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from backend.partner_webhooks import models
from backend.partner_webhooks.service import MANAGERS
from graphql_schema.nodes import load_nodes


@strawberry.enum(description="What an endpoint may subscribe to.")
class WebhookEventType(Enum):
    ALERT_CHANGED = "alert.changed"
    CALIBRATION_CHANGED = "calibration.changed"
    POLICY_CHANGED = "policy.changed"


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@strawberry.type(name="WebhookEndpoint", description="A partner's endpoint for signed events.")
class WebhookEndpointType(relay.Node):
    id: relay.NodeID[int]
    url: str = strawberry.field(description="Where events are POSTed (http or https).")
    description: str = strawberry.field(description="A note for people.")
    event_types: list[WebhookEventType] = strawberry.field(description="What it receives.")
    enabled: bool = strawberry.field(description="Whether it receives events.")
    created_at: dt.datetime = strawberry.field(description="When it was created.")
    updated_at: dt.datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def of(cls, row: models.WebhookEndpoint) -> WebhookEndpointType:
        return cls(
            id=row.id,
            url=row.url,
            description=row.description,
            event_types=[WebhookEventType(t) for t in row.event_types],
            enabled=row.enabled,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await _managed_nodes(info, models.WebhookEndpoint, node_ids, cls.of, required)


@strawberry.type(description="One attempt to deliver.")
class WebhookAttempt:
    attempt: int = strawberry.field(description="1 for the first.")
    at: dt.datetime = strawberry.field(description="When it was made.")
    status_code: int | None = strawberry.field(description="The HTTP answer; null: none came.")
    error: str | None = strawberry.field(description="Why it failed without an answer.")
    duration_ms: int = strawberry.field(description="How long it took, in milliseconds.")


@strawberry.type(name="WebhookDelivery", description="One event for one endpoint.")
class WebhookDeliveryType(relay.Node):
    id: relay.NodeID[int]
    message_id: str = strawberry.field(description="The `webhook-id` header, on every attempt.")
    event_type: WebhookEventType = strawberry.field(description="What happened.")
    event_id: str = strawberry.field(description="The event's own id (unique per endpoint).")
    status: WebhookDeliveryStatus = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="Attempts made under its current budget.")
    next_attempt_at: dt.datetime = strawberry.field(description="When it is next due.")
    delivered_at: dt.datetime | None = strawberry.field(description="When a 2xx came.")
    created_at: dt.datetime = strawberry.field(description="When it was queued.")
    log: list[WebhookAttempt] = strawberry.field(description="Every attempt, oldest first.")
    endpoint_id: strawberry.ID = strawberry.field(description="Its endpoint's global id.")

    @classmethod
    def of(cls, row: models.WebhookDelivery) -> WebhookDeliveryType:
        return cls(
            id=row.id,
            message_id=row.message_id,
            event_type=WebhookEventType(row.event_type),
            event_id=row.event_id,
            status=WebhookDeliveryStatus(row.status),
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            delivered_at=row.delivered_at,
            created_at=row.created_at,
            log=[
                WebhookAttempt(
                    attempt=e["attempt"],
                    at=dt.datetime.fromisoformat(e["at"]),
                    status_code=e.get("status_code"),
                    error=e.get("error"),
                    duration_ms=e.get("duration_ms", 0),
                )
                for e in row.attempt_log or []
            ],
            endpoint_id=strawberry.ID(str(relay.GlobalID("WebhookEndpoint", str(row.endpoint_id)))),
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await _managed_nodes(info, models.WebhookDelivery, node_ids, cls.of, required)


async def _managed_nodes(
    info: Info, model: Any, node_ids: Iterable[str], of: Any, required: bool
) -> list[Any]:
    """Endpoints and deliveries through `node`: for the organisation's admins and executives
    only (as their lists); anyone else finds nothing, as with an unknown id."""
    ids = list(node_ids)
    if info.context.require_viewer().role not in MANAGERS:
        return [None for _ in ids]
    return await load_nodes(info, model, ids, of, required=required)
