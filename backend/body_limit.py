"""Request bodies bounded before they are read whole: an ASGI middleware that refuses a body
over its route's limit with 413 and a coded JSON error, from `Content-Length` when it is sent,
else while the chunks stream in (a chunked upload is cut off at the first chunk past the limit).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE = "payload_too_large"


class BodyTooLarge(Exception):
    """Raised from ``receive`` when the streamed body passes the limit; answered with 413."""


def _error_body(path: str, code: str, message: str) -> bytes:
    # GraphQL clients read `errors[].extensions.code`; the webhooks answer `errors[].code`.
    if path.startswith("/graphql"):
        errors: list[dict[str, object]] = [{"message": message, "extensions": {"code": code}}]
    else:
        errors = [{"code": code, "field": None, "message": message}]
    return json.dumps({"errors": errors}).encode()


async def _answer(send: Send, path: str, status: int, code: str, message: str) -> None:
    body = _error_body(path, code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),  # the rest of the body is not read
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Bounds the body of every HTTP request: the limit of the first path prefix in ``limits``
    that matches, else ``default``."""

    def __init__(self, app: ASGIApp, *, limits: Sequence[tuple[str, int]], default: int) -> None:
        self.app = app
        self.limits = tuple(limits)
        self.default = default

    def limit_of(self, path: str) -> int:
        return next((size for prefix, size in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.limit_of(path)
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                await _answer(send, path, 400, "invalid", "Content-Length is not a number")
                return
            digits = declared.lstrip(b"0") or b"0"  # int() refuses over 4,300 digits
            if len(digits) > len(str(limit)) or int(digits) > limit:
                await _answer(send, path, 413, TOO_LARGE, _too_large(limit))
                return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except BodyTooLarge:
            if started:  # the app answered before reading on: nothing more to say
                return
            await _answer(send, path, 413, TOO_LARGE, _too_large(limit))


def _too_large(limit: int) -> str:
    return f"the body is larger than {limit} bytes"
