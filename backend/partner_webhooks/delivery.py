"""The worker's delivery of partner webhooks: claim the due deliveries, POST each signed body
with a timeout (side by side, so one slow endpoint delays no other), record every attempt.

Each POST goes to the addresses its host resolved to once they were checked
(`backend.partner_webhooks.addresses`): a host that is, or resolves to, a private, loopback,
link-local or otherwise non-public address is refused, and the delivery fails at once (no
retries: its DNS will not change by itself between two attempts a minute apart)."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import json
import logging
import socket
import ssl
import time
from functools import partial
from urllib.parse import urlsplit

from backend.outgoing_spans import client_span
from backend.partner_webhooks.addresses import (
    RefusedAddress,
    Resolver,
    permitted_addresses,
    resolve_host,
)
from backend.partner_webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from backend.partner_webhooks.outbox import claim_due, record_attempt
from backend.partner_webhooks.signing import decrypt_secret, signed_headers
from backend.retries import retrying
from backend.state import AppState
from backend.unit_of_work import transaction

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10.0
CONCURRENCY = 10


def _open_socket(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to the first of ``addresses`` that answers."""
    failure: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            failure = exc
    raise failure


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the checked addresses of its host (no second lookup); `Host` still names it."""

    def __init__(self, host: str, port: int, *, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        self.sock = _open_socket(self.addresses, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked addresses of its host; the certificate is verified for the host."""

    def __init__(self, host: str, port: int, *, addresses: list[str], timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.addresses = addresses

    def connect(self) -> None:
        raw = _open_socket(self.addresses, self.port, self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()


def _post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    *,
    resolve: Resolver,
    allow_private: bool,
) -> int:
    """POST without a proxy, following no redirect (a 3xx is an answer that is not 2xx: logged
    and retried); the response code."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http or https URL with a host")
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    addresses = permitted_addresses(
        parts.hostname, port, resolve=resolve, allow_private=allow_private
    )
    kind = _PinnedHTTPSConnection if https else _PinnedHTTPConnection
    connection = kind(parts.hostname, port, addresses=addresses, timeout=timeout)
    with client_span("POST", url) as span:
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            response.read(65536)
            if span is not None:
                span.set_attribute("http.response.status_code", int(response.status))
            return int(response.status)
        finally:
            connection.close()


async def post_signed(
    url: str,
    secret: str,
    delivery: WebhookDelivery,
    *,
    now: dt.datetime,
    timeout: float,
    resolve: Resolver = resolve_host,
    allow_private: bool = False,
) -> int:
    """POST the delivery to ``url``; the response code (raises on no answer in ``timeout``,
    RefusedAddress when the host is not public and ``allow_private`` is false)."""
    body = body_of(delivery)
    headers = signed_headers(secret, delivery.message_id, int(now.timestamp()), body)
    headers["user-agent"] = "sales-agent-learning-webhooks/1"
    post = partial(_post, url, body, headers, timeout, resolve=resolve, allow_private=allow_private)
    # A refused connection is tried twice more at once (backend.retries). The thread's socket
    # timeout bounds each read; wait_for bounds the whole exchange (the lookup included).
    return await asyncio.wait_for(asyncio.to_thread(retrying, post), timeout=timeout + 2)


async def _deliver_one(
    state: AppState,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint | None,
    *,
    now: dt.datetime,
    timeout: float,
    resolve: Resolver,
) -> DeliveryStatus:
    status_code: int | None = None
    error: str | None = None
    refused = False
    started = time.monotonic()
    try:
        if endpoint is None or endpoint.deleted_at is not None or not endpoint.enabled:
            error = "the endpoint is disabled or deleted"
        else:
            secret = decrypt_secret(state.settings.secret_key, endpoint.secret_encrypted)
            status_code = await post_signed(
                endpoint.url,
                secret,
                delivery,
                now=now,
                timeout=timeout,
                resolve=resolve,
                allow_private=state.settings.partner_webhooks_allow_private_urls,
            )
    except TimeoutError:
        error = f"no answer within {timeout:g} s"
    except RefusedAddress as exc:
        error, refused = str(exc), True
        log.warning(
            "webhook delivery %d (endpoint %d) refused: %s resolves to %s, not a public address",
            delivery.id,
            delivery.endpoint_id,
            exc.host,
            exc.address,
        )
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
            final=refused,
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
    state: AppState,
    *,
    now: dt.datetime,
    timeout: float = TIMEOUT_SECONDS,
    resolve: Resolver = resolve_host,
) -> int:
    """Send the due deliveries; returns how many were delivered. ``resolve`` looks hosts up
    (the system's resolver; tests pass their own)."""
    async with transaction(state.sessions) as session:
        claimed = await claim_due(session, now=now)
        endpoints = {
            d.endpoint_id: await session.get(WebhookEndpoint, d.endpoint_id) for d in claimed
        }
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(delivery: WebhookDelivery) -> DeliveryStatus:
        async with gate:
            return await _deliver_one(
                state,
                delivery,
                endpoints[delivery.endpoint_id],
                now=now,
                timeout=timeout,
                resolve=resolve,
            )

    results = await asyncio.gather(*(one(d) for d in claimed))
    return sum(r is DeliveryStatus.DELIVERED for r in results)
