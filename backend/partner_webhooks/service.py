"""Use cases of partner webhooks: admins and executives manage their organisation's endpoints,
read the delivery log and ask for a redelivery. Another organisation's rows are unknown."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import NotFoundError, Problems
from backend.pagination import Page, paginate
from backend.partner_webhooks.addresses import host_problem
from backend.partner_webhooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from backend.partner_webhooks.signing import encrypt_secret, new_secret
from backend.viewer import Viewer, ViewerRole, scoped

MANAGERS = (ViewerRole.ADMIN, ViewerRole.EXECUTIVE)
MAX_URL = 2000
MAX_DESCRIPTION = 200


@dataclass(frozen=True)
class EndpointSpec:
    url: str
    event_types: list[str]
    description: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class SavedEndpoint:
    endpoint: WebhookEndpoint
    secret: str | None  # only when it was just created: shown once, never again


def check_spec(spec: EndpointSpec, *, allow_private_urls: bool = False) -> None:
    """Every problem of ``spec``, by field. A URL whose host is `localhost` or a literal
    private, loopback, link-local, multicast, reserved or unspecified address is refused unless
    ``allow_private_urls`` (the worker checks what a name resolves to at each delivery)."""
    problems = Problems()
    parts = urlsplit(spec.url) if len(spec.url) <= MAX_URL else None
    if parts is None:
        problems.add("url", f"must be at most {MAX_URL} characters")
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        problems.add("url", "must be an http or https URL with a host")
    elif parts.username or parts.password:
        problems.add("url", "must not hold credentials")
    elif not allow_private_urls and (problem := host_problem(parts.hostname)) is not None:
        problems.add("url", problem)
    known = {t.value for t in WebhookEventType}
    if not spec.event_types:
        problems.add("eventTypes", "name at least one event type")
    for i, name in enumerate(spec.event_types):
        if name not in known:
            problems.add(f"eventTypes[{i}]", f"must be one of {', '.join(sorted(known))}")
    if len(set(spec.event_types)) != len(spec.event_types):
        problems.add("eventTypes", "must not repeat an event type")
    problems.require(len(spec.description) <= MAX_DESCRIPTION, "description", "too long")
    problems.raise_if_any()


async def _endpoint(session: AsyncSession, viewer: Viewer, endpoint_id: int) -> WebhookEndpoint:
    found = await session.scalar(
        scoped(select(WebhookEndpoint), WebhookEndpoint, viewer).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.deleted_at.is_(None)
        )
    )
    if found is None:
        raise NotFoundError("webhook endpoint")
    return found


async def endpoints_page(
    session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None
) -> Page[WebhookEndpoint]:
    viewer.require_role(*MANAGERS)
    statement = scoped(select(WebhookEndpoint), WebhookEndpoint, viewer).where(
        WebhookEndpoint.deleted_at.is_(None)
    )
    return await paginate(
        session,
        statement,
        order=(WebhookEndpoint.created_at, WebhookEndpoint.id),
        first=first,
        after=after,
    )


async def upsert_endpoint(
    session: AsyncSession,
    viewer: Viewer,
    spec: EndpointSpec,
    *,
    secret_key: str,
    now: dt.datetime,
    endpoint_id: int | None = None,
    allow_private_urls: bool = False,
) -> SavedEndpoint:
    """Create an endpoint (with a new secret, returned once) or replace one's definition.
    ``allow_private_urls``: the deployment's `PARTNER_WEBHOOKS_ALLOW_PRIVATE_URLS`."""
    viewer.require_role(*MANAGERS)
    existing = await _endpoint(session, viewer, endpoint_id) if endpoint_id is not None else None
    check_spec(spec, allow_private_urls=allow_private_urls)
    if existing is not None:
        existing.url = spec.url
        existing.event_types = list(spec.event_types)
        existing.description = spec.description
        existing.enabled = spec.enabled
        existing.updated_by_id = viewer.user_id
        existing.updated_at = now
        await session.flush()
        return SavedEndpoint(existing, None)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organization_id=viewer.organization_id,
        url=spec.url,
        event_types=list(spec.event_types),
        description=spec.description,
        enabled=spec.enabled,
        secret_encrypted=encrypt_secret(secret_key, secret),
        created_by_id=viewer.user_id,
        created_at=now,
        updated_by_id=viewer.user_id,
        updated_at=now,
    )
    session.add(endpoint)
    await session.flush()
    return SavedEndpoint(endpoint, secret)


async def delete_endpoint(
    session: AsyncSession, viewer: Viewer, endpoint_id: int, *, now: dt.datetime
) -> WebhookEndpoint:
    """Deleted endpoints receive nothing more; their pending deliveries fail at their next try."""
    viewer.require_role(*MANAGERS)
    endpoint = await _endpoint(session, viewer, endpoint_id)
    endpoint.deleted_at = now
    endpoint.deleted_by_id = viewer.user_id
    endpoint.enabled = False
    await session.flush()
    return endpoint


async def deliveries_page(
    session: AsyncSession,
    viewer: Viewer,
    *,
    endpoint_id: int | None,
    status: str | None,
    first: int | None,
    after: str | None,
) -> Page[WebhookDelivery]:
    """The delivery log, newest first."""
    viewer.require_role(*MANAGERS)
    statement = scoped(select(WebhookDelivery), WebhookDelivery, viewer)
    if endpoint_id is not None:
        statement = statement.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status)
    return await paginate(
        session,
        statement,
        order=(WebhookDelivery.created_at, WebhookDelivery.id),
        first=first,
        after=after,
    )


async def redeliver(
    session: AsyncSession, viewer: Viewer, delivery_id: int, *, now: dt.datetime
) -> WebhookDelivery:
    """Send a delivery again at the worker's next run, with a fresh attempt budget; the log
    keeps the earlier attempts and the receiver sees the same `webhook-id`."""
    viewer.require_role(*MANAGERS)
    delivery = await session.scalar(
        scoped(select(WebhookDelivery), WebhookDelivery, viewer).where(
            WebhookDelivery.id == delivery_id
        )
    )
    if delivery is None:
        raise NotFoundError("webhook delivery")
    await _endpoint(session, viewer, delivery.endpoint_id)  # a deleted endpoint gets nothing
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            delivered_at=None,
        )
    )
    await session.refresh(delivery)
    return delivery
