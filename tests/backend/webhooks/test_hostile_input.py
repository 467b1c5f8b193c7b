"""Hostile input to the signal webhooks (issue #16): every malformed request is answered with a
coded 4xx that providers do not retry, never a 500, and stores nothing. Headers are parsed
strictly: ``"²".isdigit()`` is true in Python, yet ``int("²")`` raises."""

from __future__ import annotations

import json
import time

import pytest

from backend.webhooks.headers import ascii_int
from tests.backend.webhooks.conftest import Hooks, at, events, fields, raw_post

PATH = "/webhooks/email-events"


def reply(hooks: Hooks, **fields_: object) -> dict[str, object]:
    return {
        "id": "ev-1",
        "type": "replied",
        "message_id": "<m1@mail>",
        "timestamp": at(hooks.now),
        "sentiment": "positive",
        **fields_,
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("1767225600", 1767225600),
        (" 42 ", 42),
        ("²", None),
        ("١٢", None),
        ("", None),
        ("-1", None),
        ("+1", None),
        ("1e3", None),
        ("9" * 19, None),
        (None, None),
    ],
)
def test_header_numbers_are_ascii_digits_only(text: str | None, value: int | None) -> None:
    assert ascii_int(text) == value


@pytest.mark.parametrize("timestamp", ["\xb2", "1\xb2", "9" * 5000])
async def test_a_signature_time_that_is_no_ascii_number_is_401(hooks, timestamp: str) -> None:
    """Header bytes are read as Latin-1: the byte 0xB2 arrives as "²"."""
    raw = json.dumps(events(reply(hooks))).encode()
    headers = {
        "X-Organization": b"north",
        "X-Signature": f"t={timestamp},v1={'0' * 64}".encode("latin-1"),
        "Content-Type": b"application/json",
    }
    status, answer = raw_post(hooks.client, PATH, raw, headers)
    assert status == 401 and "t=<unix seconds>" in answer["error"]
    assert await hooks.signal_count() == 0


@pytest.mark.parametrize("length", [b"\xb2", b"1\xb2"])
async def test_a_content_length_that_is_no_ascii_number_is_400(hooks, length: bytes) -> None:
    signed = hooks.post(PATH, b"{}").request.headers
    headers = {k: v.encode() for k, v in signed.items() if k.lower().startswith("x-")}
    status, _ = raw_post(hooks.client, PATH, b"{}", {**headers, "content-length": length})
    assert status == 400


async def test_a_nul_in_the_organisation_header_is_an_unknown_organisation(hooks) -> None:
    response = hooks.post(PATH, events(reply(hooks)), org="north\x00")
    assert response.status_code == 401


@pytest.mark.parametrize(
    "timestamp",
    [
        "0000-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-14:00",
        10**30,
        -(10**30),
        1e308,
        -62135596801,
        253402300800,
    ],
)
async def test_an_extreme_timestamp_is_400_naming_it(hooks, timestamp: object) -> None:
    response = hooks.post(PATH, events(reply(hooks, timestamp=timestamp)))
    assert response.status_code == 400 and fields(response) == {"events[0].timestamp"}
    assert await hooks.signal_count() == 0


async def test_a_number_of_5000_digits_is_400_naming_the_body(hooks) -> None:
    raw = b'{"events": [{"id": ' + b"9" * 5000 + b"}]}"
    response = hooks.post(PATH, raw)
    assert response.status_code == 400 and fields(response) == {"body"}


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "\ud83d", "x\udc00y"])
@pytest.mark.parametrize("field", ["id", "message_id", "sentiment"])
async def test_text_no_database_stores_is_400_naming_its_field(
    hooks, field: str, text: str
) -> None:
    """A NUL (PostgreSQL refuses it in text) or a lone surrogate (no UTF-8 encodes it)."""
    await hooks.email("m1")
    document = events(reply(hooks, **{field: text}))
    raw = json.dumps(document).encode()  # ensure_ascii: "\\ud83d", as a sender would write it
    response = hooks.post(PATH, raw)
    assert response.status_code == 400 and fields(response) == {f"events[0].{field}"}
    assert response.json()["errors"][0]["code"] == "invalid"
    assert await hooks.signal_count() == 0


async def test_a_lone_surrogate_in_the_crm_deal_id_is_400(hooks) -> None:
    event = {
        "id": "crm-1",
        "event": "won",
        "deal_id": "\ud83d",
        "occurred_at": int(time.time()) - 60,
    }
    response = hooks.post("/webhooks/crm", events(event))
    assert response.status_code == 400 and fields(response) == {"events[0].deal_id"}
