"""The request id: taken from the client's `X-Request-ID` when it is a sane token, else made
here; returned in the response's `X-Request-ID`, bound to every log line written while the
request (or the WebSocket connection) is served, and given to the GraphQL context."""

from __future__ import annotations

import re
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
MAX_LENGTH = 128
# Letters, digits and the punctuation of UUIDs and common trace ids; nothing that could forge a
# log line or a header (no spaces, quotes, control characters).
_SANE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_LENGTH - 1}}}")
_KEY = "request_id"


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it may serve as a request id as is, else None."""
    if value is None or _SANE.fullmatch(value) is None:
        return None
    return value


def current_request_id() -> str | None:
    """The id of the request or WebSocket connection being served, if any."""
    value = structlog.contextvars.get_contextvars().get(_KEY)
    return value if isinstance(value, str) else None


class RequestId:
    """ASGI middleware: gives each HTTP request and WebSocket connection its request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = sane_request_id(value.decode("latin-1"))
                break
        request_id = given or new_request_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                if message["type"] == "http.response.start":
                    message.setdefault("headers", [])
                    MutableHeaders(scope=message)[HEADER] = request_id
                else:
                    headers = list(message.get("headers", []))
                    headers.append((b"x-request-id", request_id.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(**{_KEY: request_id}):
            await self.app(scope, receive, send_with_id)
