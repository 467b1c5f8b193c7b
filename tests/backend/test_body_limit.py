"""The body limit's reading of Content-Length itself, whatever its size (a length of 5,000
digits is a body far too large, not a crash: Python's int() refuses over 4,300 digits)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backend.body_limit import BodyLimit


async def _answer(content_length: bytes) -> tuple[int, dict[str, Any]]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/webhooks/email-events",
        "headers": [(b"content-length", content_length)],
    }
    await BodyLimit(app, limits=[("/graphql", 1024)], default=1024)(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


@pytest.mark.parametrize(
    ("declared", "status"),
    [
        (b"9" * 5000, 413),
        (b"1" + b"0" * 30, 413),
        (b"0" * 5000 + b"12", 200),  # leading zeros: 12 bytes
        (b"1024", 200),
        (b"1025", 413),
    ],
)
async def test_any_content_length_is_read_without_a_crash(declared: bytes, status: int) -> None:
    answered, body = await _answer(declared)
    assert answered == status, body
    if status == 413:
        assert body["errors"][0]["code"] == "payload_too_large"
