"""GraphQL: `upsertWebhookEndpoint` (the secret shown once, on creation),
`deleteWebhookEndpoint`, `redeliverWebhook` (admins and executives)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.partner_webhooks import service
from backend.partner_webhooks.models import WebhookDelivery, WebhookEndpoint
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from graphql_schema.errors import UserError
from graphql_schema.inputs import attempt, decode_id, with_error_paths
from graphql_schema.partner_webhooks.types import (
    WebhookDeliveryType,
    WebhookEndpointType,
    WebhookEventType,
)

ERRORS_DESCRIPTION = "What to fix; empty when it was done (a rejected request changed nothing)."


@strawberry.input(
    description=with_error_paths(
        "An endpoint to create, or (with `id`) the whole new definition of one.", "url"
    )
)
class UpsertWebhookEndpointInput:
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The endpoint to change; omit to create one."
    )
    url: str = strawberry.field(description="An http or https URL, at most 2000 characters.")
    event_types: list[WebhookEventType] = strawberry.field(
        description="What it receives: at least one, none twice."
    )
    description: str = strawberry.field(default="", description="At most 200 characters.")
    enabled: bool = strawberry.field(default=True, description="Whether it receives events.")


@strawberry.type(description="The endpoint, its secret when just created, or what to fix.")
class UpsertWebhookEndpointPayload:
    endpoint: WebhookEndpointType | None = strawberry.field(default=None, description="It.")
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret (`whsec_...`), only in the answer that created the "
        "endpoint: keep it, it is never shown again.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.input(description=with_error_paths("The endpoint to delete.", "id"))
class DeleteWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="The endpoint (WebhookEndpoint id).")


@strawberry.type(description="The deleted endpoint, or what to fix.")
class DeleteWebhookEndpointPayload:
    endpoint: WebhookEndpointType | None = strawberry.field(default=None, description="It.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.input(description=with_error_paths("The delivery to send again.", "id"))
class RedeliverWebhookInput:
    id: strawberry.ID = strawberry.field(description="The delivery (WebhookDelivery id).")


@strawberry.type(description="The delivery, pending again, or what to fix.")
class RedeliverWebhookPayload:
    delivery: WebhookDeliveryType | None = strawberry.field(default=None, description="It.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


async def _upsert(
    info: Info, viewer: Viewer, data: UpsertWebhookEndpointInput
) -> service.SavedEndpoint:
    endpoint_id = decode_id(data.id, "WebhookEndpoint", "id") if data.id is not None else None
    spec = service.EndpointSpec(
        url=data.url,
        event_types=[t.value for t in data.event_types],
        description=data.description,
        enabled=data.enabled,
    )
    async with transaction(info.context.state.sessions) as session:
        return await service.upsert_endpoint(
            session,
            viewer,
            spec,
            secret_key=info.context.state.settings.secret_key,
            now=info.context.now(),
            endpoint_id=endpoint_id,
            allow_private_urls=info.context.state.settings.partner_webhooks_allow_private_urls,
        )


async def _delete(info: Info, viewer: Viewer, data: DeleteWebhookEndpointInput) -> WebhookEndpoint:
    endpoint_id = decode_id(data.id, "WebhookEndpoint", "id")
    async with transaction(info.context.state.sessions) as session:
        return await service.delete_endpoint(session, viewer, endpoint_id, now=info.context.now())


async def _redeliver(info: Info, viewer: Viewer, data: RedeliverWebhookInput) -> WebhookDelivery:
    delivery_id = decode_id(data.id, "WebhookDelivery", "id")
    async with transaction(info.context.state.sessions) as session:
        return await service.redeliver(session, viewer, delivery_id, now=info.context.now())


@strawberry.type
class PartnerWebhooksMutation:
    @strawberry.mutation(
        description="Create a webhook endpoint (its secret is in this answer only) or change "
        "one. Admins and executives, for their organisation; every problem names its field."
    )
    async def upsert_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[UpsertWebhookEndpointInput, strawberry.argument(description="It.")],
    ) -> UpsertWebhookEndpointPayload:
        saved, errors = await attempt(info, input, lambda v: _upsert(info, v, input))
        if saved is None:
            return UpsertWebhookEndpointPayload(errors=errors)
        return UpsertWebhookEndpointPayload(
            endpoint=WebhookEndpointType.of(saved.endpoint), secret=saved.secret
        )

    @strawberry.mutation(
        description="Delete a webhook endpoint: it receives nothing more. Admins and executives."
    )
    async def delete_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[DeleteWebhookEndpointInput, strawberry.argument(description="Which.")],
    ) -> DeleteWebhookEndpointPayload:
        endpoint, errors = await attempt(info, input, lambda v: _delete(info, v, input))
        if endpoint is None:
            return DeleteWebhookEndpointPayload(errors=errors)
        return DeleteWebhookEndpointPayload(endpoint=WebhookEndpointType.of(endpoint))

    @strawberry.mutation(
        description="Send a delivery again at the worker's next run (same `webhook-id`, a fresh "
        "attempt budget, the log kept). Admins and executives."
    )
    async def redeliver_webhook(
        self,
        info: Info,
        input: Annotated[RedeliverWebhookInput, strawberry.argument(description="Which.")],
    ) -> RedeliverWebhookPayload:
        delivery, errors = await attempt(info, input, lambda v: _redeliver(info, v, input))
        if delivery is None:
            return RedeliverWebhookPayload(errors=errors)
        return RedeliverWebhookPayload(delivery=WebhookDeliveryType.of(delivery))
