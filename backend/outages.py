"""Outages of the database or the broker answer 503 with Retry-After and a coded error, never a
500: clients and webhook providers retry a 503 later, and the server recovers by itself once the
peer is back (the pools reconnect)."""

from __future__ import annotations

import asyncio
import json
import logging

import sqlalchemy.exc
from redis import exceptions as redis_errors
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "unavailable"  # the error code
MESSAGE = "the service is briefly unavailable (its database or broker); retry after {} s"
# A WebSocket closed because a peer is down: "Try Again Later" (RFC 6455, 7.4.1 registry).
TRY_AGAIN_LATER = 1013


class Unavailable(Exception):
    """Raised where an outage was caught as a value (a GraphQL result's errors), so that
    :class:`Outages` answers it as one."""


_OUTAGES: tuple[type[BaseException], ...] = (
    Unavailable,
    sqlalchemy.exc.OperationalError,  # connection refused, lost, or SQLite's lock
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,  # no connection free in the pool in time
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    ConnectionError,  # refused, reset or aborted sockets, unwrapped
    TimeoutError,
)


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` (or what it was raised from) says a peer is unreachable."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _OUTAGES):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, BaseExceptionGroup):
            return any(is_outage(e) for e in current.exceptions)
        current = current.__cause__ or current.__context__
    return False


WEBHOOKS = "/webhooks/"  # webhooks answer errors in their own shape


def unavailable_body(path: str) -> bytes:
    """The 503's body: a webhook's error shape, ``{"error", "code"}`` (providers retry a 503;
    nothing of the request was stored, so the retry is applied once), else a GraphQL one."""
    message = MESSAGE.format(RETRY_AFTER_SECONDS)
    if path.startswith(WEBHOOKS):
        return json.dumps({"error": message, "code": UNAVAILABLE}).encode()
    error = {
        "message": message,
        "extensions": {"code": UNAVAILABLE, "retryAfter": RETRY_AFTER_SECONDS},
    }
    return json.dumps({"data": None, "errors": [error]}).encode()


class Outages:
    """ASGI middleware: an outage raised while answering, before the answer has started, becomes
    a 503 with Retry-After (HTTP) or a close with 1013 "Try Again Later" (WebSocket)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] in ("http.response.start", "websocket.accept", "websocket.close"):
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if started or not is_outage(exc):
                raise
            log.warning("answered 503: %s %s: %r", scope["type"], scope.get("path"), exc)
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": TRY_AGAIN_LATER})
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                    ],
                }
            )
            body = unavailable_body(scope.get("path", ""))
            await send({"type": "http.response.body", "body": body})
