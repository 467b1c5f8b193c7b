"""GraphQL: `webhookEndpoints` and `webhookDeliveries` (admins and executives)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.pagination import DEFAULT_PAGE
from backend.partner_webhooks import service
from graphql_schema.filters import After, First
from graphql_schema.inputs import decode_id
from graphql_schema.partner_webhooks.types import (
    WebhookDeliveryStatus,
    WebhookDeliveryType,
    WebhookEndpointType,
)
from graphql_schema.relay import Connection


@strawberry.type
class PartnerWebhooksQuery:
    @strawberry.field(
        description="Your organisation's webhook endpoints, newest first. Admins and executives."
    )
    async def webhook_endpoints(
        self, info: Info, first: First = DEFAULT_PAGE, after: After = None
    ) -> Connection[WebhookEndpointType]:
        viewer = info.context.require_viewer()
        async with info.context.state.sessions() as session:
            page = await service.endpoints_page(session, viewer, first=first, after=after)
        return Connection.of(page, WebhookEndpointType.of, info)

    @strawberry.field(
        description="The webhook delivery log, newest first, with every attempt. Admins and "
        "executives."
    )
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this endpoint's (its id)."),
        ] = None,
        status: Annotated[
            WebhookDeliveryStatus | None,
            strawberry.argument(description="Only deliveries in this state."),
        ] = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Connection[WebhookDeliveryType]:
        viewer = info.context.require_viewer()
        endpoint = (
            decode_id(endpoint_id, "WebhookEndpoint", "endpointId")
            if endpoint_id is not None
            else None
        )
        async with info.context.state.sessions() as session:
            page = await service.deliveries_page(
                session,
                viewer,
                endpoint_id=endpoint,
                status=status.value if status is not None else None,
                first=first,
                after=after,
            )
        return Connection.of(page, WebhookDeliveryType.of, info)
