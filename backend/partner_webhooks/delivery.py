"""The worker's delivery of partner webhooks: claim the due deliveries, POST each signed body
with a timeout (side by side, so one slow endpoint delays no other), record every attempt."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

from backend.partner_webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from backend.partner_webhooks.outbox import claim_due, record_attempt
from backend.partner_webhooks.signing import decrypt_secret, signed_headers
from backend.state import AppState
from backend.unit_of_work import transaction

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10.0
CONCURRENCY = 10


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that is not 2xx: it is logged and retried, never followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(65536)
            return int(response.status)
    except urllib.error.HTTPError as answer:  # a non-2xx answer is a response code, not an error
        answer.close()
        return int(answer.code)


async def post_signed(
    url: str, secret: str, delivery: WebhookDelivery, *, now: dt.datetime, timeout: float
) -> int:
    """POST the delivery to ``url``; the response code (raises on no answer in ``timeout``)."""
    body = body_of(delivery)
    headers = signed_headers(secret, delivery.message_id, int(now.timestamp()), body)
    headers["user-agent"] = "sales-agent-learning-webhooks/1"
    # The thread's socket timeout bounds each read; wait_for bounds the whole exchange.
    return await asyncio.wait_for(
        asyncio.to_thread(_post, url, body, headers, timeout), timeout=timeout + 1
    )


async def _deliver_one(
    state: AppState,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint | None,
    *,
    now: dt.datetime,
    timeout: float,
) -> DeliveryStatus:
    status_code: int | None = None
    error: str | None = None
    started = time.monotonic()
    try:
        if endpoint is None or endpoint.deleted_at is not None or not endpoint.enabled:
            error = "the endpoint is disabled or deleted"
        else:
            secret = decrypt_secret(state.settings.secret_key, endpoint.secret_encrypted)
            status_code = await post_signed(
                endpoint.url, secret, delivery, now=now, timeout=timeout
            )
    except TimeoutError:
        error = f"no answer within {timeout:g} s"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    duration_ms = int((time.monotonic() - started) * 1000)
    async with transaction(state.sessions) as session:
        status = await record_attempt(
            session,
            delivery,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            now=now,
        )
    if status is not DeliveryStatus.DELIVERED:
        log.warning(
            "webhook delivery %d (endpoint %d), attempt %d: %s (%s)",
            delivery.id,
            delivery.endpoint_id,
            delivery.attempts,
            error or f"HTTP {status_code}",
            "gave up" if status is DeliveryStatus.FAILED else "will retry",
        )
    return status


async def deliver_webhooks(
    state: AppState, *, now: dt.datetime, timeout: float = TIMEOUT_SECONDS
) -> int:
    """Send the due deliveries; returns how many were delivered."""
    async with transaction(state.sessions) as session:
        claimed = await claim_due(session, now=now)
        endpoints = {
            d.endpoint_id: await session.get(WebhookEndpoint, d.endpoint_id) for d in claimed
        }
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(delivery: WebhookDelivery) -> DeliveryStatus:
        async with gate:
            return await _deliver_one(
                state, delivery, endpoints[delivery.endpoint_id], now=now, timeout=timeout
            )

    results = await asyncio.gather(*(one(d) for d in claimed))
    return sum(r is DeliveryStatus.DELIVERED for r in results)
