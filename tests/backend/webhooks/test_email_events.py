"""POST /webhooks/email-events through the real app on each database: signed batches are stored
before the answer, retries count once, and anything unsigned or malformed stores nothing."""

from __future__ import annotations

import time

import pytest

from backend.webhooks.receiver import MAX_BODY_BYTES
from tests.backend.webhooks.conftest import Hooks, all_codes, at, events, fields

PATH = "/webhooks/email-events"


def reply(hooks: Hooks, event_id: str, message: str, **extra: object) -> dict[str, object]:
    return {
        "id": event_id,
        "type": "replied",
        "message_id": message,
        "timestamp": at(hooks.now),
        **extra,
    }


async def test_signed_reply_resolves_the_email_and_is_stored_before_the_answer(hooks) -> None:
    action_id = await hooks.email("m1")
    response = hooks.post(PATH, events(reply(hooks, "ev-1", "<m1@mail>", sentiment="positive")))
    assert response.status_code == 200
    assert response.json() == {
        "received": 1,
        "stored": 1,
        "duplicates": 0,
        "matched": 1,
        "unmatched": [],
        "resolved": 2,
        "needsLabel": 0,
        "late": 0,
    }
    outcomes = await hooks.outcomes(action_id)
    assert (outcomes["email_reply"].status, outcomes["email_reply"].value) == ("resolved", 1.0)
    assert outcomes["email_delivery"].status == "resolved"
    (stored,) = await hooks.signals()
    assert (stored.kind, stored.source, stored.external_id, stored.matched) == (
        "email.replied",
        "email_provider",
        "ev-1",
        True,
    )
    assert stored.payload == {"sentiment": "positive"}


async def test_a_retried_delivery_counts_once(hooks) -> None:
    action_id = await hooks.email("m2")
    batch = events(
        reply(hooks, "ev-2", "<m2@mail>", sentiment="negative"),
        {
            "id": "ev-3",
            "type": "opened",
            "message_id": "<m2@mail>",
            "timestamp": int(hooks.now.timestamp()) - 1800,
        },
    )
    first = hooks.post(PATH, batch).json()
    again = hooks.post(PATH, batch).json()  # signed anew, as a provider's retry is
    assert (first["stored"], first["resolved"]) == (2, 2)
    assert (again["stored"], again["duplicates"], again["resolved"]) == (0, 2, 0)
    assert await hooks.signal_count() == 2
    assert (await hooks.outcomes(action_id))["email_reply"].value == 0.0


async def test_the_user_agent_of_opens_and_clicks_is_kept_and_tells_machines(hooks) -> None:
    """Apple's privacy proxy preloading the pixel, a scanner following the link: stored, with
    their user agent, as opens and clicks made by software; a person's open is not."""
    await hooks.email("m5")
    opened = {"type": "opened", "message_id": "<m5@mail>", "timestamp": at(hooks.now)}
    batch = events(
        {"id": "o-1", **opened, "user_agent": "Mozilla/5.0"},
        {"id": "o-2", **opened, "user_agent": "Microsoft Office/16.0 (Microsoft Outlook)"},
        {
            "id": "c-1",
            "type": "clicked",
            "message_id": "<m5@mail>",
            "timestamp": at(hooks.now),
            "url": "https://example.test/offer",
            "user_agent": "Mimecast URL Protect",
        },
    )
    assert hooks.post(PATH, batch).json()["stored"] == 3
    stored = {s.external_id: (s.payload, s.machine) for s in await hooks.signals()}
    assert stored == {
        "o-1": ({"user_agent": "Mozilla/5.0"}, True),
        "o-2": ({"user_agent": "Microsoft Office/16.0 (Microsoft Outlook)"}, False),
        "c-1": ({"url": "https://example.test/offer", "user_agent": "Mimecast URL Protect"}, True),
    }


async def test_provider_header_names_the_source_and_unknown_messages_are_unmatched(hooks) -> None:
    response = hooks.post(
        PATH,
        events(
            {
                "id": "b-9",
                "type": "bounced",
                "message_id": "<nobody@mail>",
                "timestamp": at(hooks.now),
                "bounce_type": "hard",
            }
        ),
        headers={"X-Provider": "sendgrid"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["stored"], body["matched"]) == (1, 0)
    assert body["unmatched"] == [{"source": "sendgrid", "externalId": "b-9"}]
    (stored,) = await hooks.signals()
    assert (stored.source, stored.matched, stored.payload) == (
        "sendgrid",
        False,
        {"bounce_type": "hard"},
    )


async def test_an_invalid_provider_header_is_refused(hooks) -> None:
    response = hooks.post(
        PATH, events(reply(hooks, "p", "<x@mail>")), headers={"X-Provider": "Send Grid"}
    )
    assert response.status_code == 400 and fields(response) == {"X-Provider"}
    assert await hooks.signal_count() == 0


@pytest.mark.parametrize("tamper", ["wrong secret", "changed body", "no v1", "no headers"])
async def test_a_bad_signature_is_401_and_stores_nothing(hooks, tamper: str) -> None:
    await hooks.email("m3")
    batch = events(reply(hooks, "ev-4", "<m3@mail>", sentiment="positive"))
    if tamper == "wrong secret":
        response = hooks.post(PATH, batch, secret=hooks.secret("south"))
    else:
        signed = hooks.post(PATH, b"{}").request  # borrow a valid signature for another body
        headers = dict(signed.headers)
        if tamper == "no v1":
            headers["x-signature"] = headers["x-signature"].split(",")[0]
        elif tamper == "no headers":
            del headers["x-signature"], headers["x-organization"]
        headers.pop("content-length")
        response = hooks.client.post(PATH, json=batch, headers=headers)
    assert response.status_code == 401 and "error" in response.json()
    assert await hooks.signal_count() == 0


async def test_the_signature_is_checked_before_the_body_is_parsed(hooks) -> None:
    response = hooks.post(PATH, b"{not json", secret=hooks.secret("south"))
    assert response.status_code == 401


@pytest.mark.parametrize("skew", [-301, 301])
async def test_a_stale_or_future_timestamp_is_refused_as_a_replay(hooks, skew: int) -> None:
    await hooks.email("m4")
    batch = events(reply(hooks, "ev-5", "<m4@mail>", sentiment="positive"))
    response = hooks.post(PATH, batch, timestamp=int(time.time()) + skew)
    assert response.status_code == 401 and "300 s" in response.json()["error"]
    assert hooks.post(PATH, batch, timestamp=int(time.time()) - 240).status_code == 200
    assert await hooks.signal_count() == 1


async def test_an_unknown_organisation_looks_like_a_bad_signature(hooks) -> None:
    batch = events(reply(hooks, "ev-6", "<m@mail>"))
    unknown = hooks.post(PATH, batch, org="nowhere")  # correctly signed with its derived secret
    forged = hooks.post(PATH, batch, org="north", secret=hooks.secret("nowhere"))
    assert unknown.status_code == forged.status_code == 401
    assert unknown.json() == forged.json()
    assert await hooks.signal_count() == 0


@pytest.mark.parametrize("raw", [b'{"events": [', b"\xff\xfe", b"[" * 200_000])
async def test_malformed_json_is_400_naming_the_body(hooks, raw: bytes) -> None:
    response = hooks.post(PATH, raw)
    assert response.status_code == 400 and fields(response) == {"body"}


@pytest.mark.parametrize(
    ("document", "field", "code"),
    [
        ([], "body", "invalid"),
        ({}, "events", "required"),
        ({"events": {}}, "events", "invalid"),
        ({"events": []}, "events", "required"),
        ({"events": [1]}, "events[0]", "invalid"),
        ({"events": [{}] * 1001}, "events", "invalid"),
    ],
)
async def test_a_badly_shaped_batch_is_400(hooks, document: object, field: str, code: str) -> None:
    response = hooks.post(PATH, document)
    assert response.status_code == 400 and fields(response) == {field}
    assert list(all_codes(response)) == [code]


async def test_bad_events_are_named_by_index_and_field_and_nothing_is_stored(hooks) -> None:
    await hooks.email("m5")
    good = reply(hooks, "ev-7", "<m5@mail>", sentiment="positive")
    no_time = {k: v for k, v in reply(hooks, "ev-8", "<m5@mail>").items() if k != "timestamp"}
    batch = events(
        good,
        no_time,
        {"id": "ev-9", "type": "delivered", "message_id": "<m5@mail>", "timestamp": "yesterday"},
        {"id": "", "type": "clicked", "timestamp": at(hooks.now), "url": 42},
        reply(hooks, "ev-10", "<m5@mail>", timestamp="2026-11-01T10:00:00"),  # no time zone
    )
    response = hooks.post(PATH, batch)
    assert response.status_code == 400
    assert fields(response) == {
        "events[1].timestamp",
        "events[2].type",
        "events[2].timestamp",
        "events[3].id",
        "events[3].message_id",
        "events[3].url",
        "events[4].timestamp",
    }
    assert await hooks.signal_count() == 0


async def test_service_problems_are_named_in_the_providers_terms(hooks) -> None:
    future = reply(hooks, "ev-11", "<m@mail>", timestamp=at(hooks.now, hours=2))
    response = hooks.post(PATH, events(reply(hooks, "ev-12", "<m@mail>"), future))
    assert response.status_code == 400
    assert fields(response) == {"events[1].timestamp"}
    assert "future" in response.json()["errors"][0]["message"]
    assert await hooks.signal_count() == 0


@pytest.mark.parametrize("declared", [True, False])
async def test_an_oversize_body_is_413_and_stores_nothing(hooks, declared: bool) -> None:
    padding = "x" * MAX_BODY_BYTES
    raw = f'{{"events": [], "padding": "{padding}"}}'.encode()
    if declared:
        response = hooks.post(PATH, raw)
    else:  # chunked: no Content-Length, so the limit is enforced while reading
        signed = hooks.post(PATH, raw[:10]).request.headers
        headers = {k: v for k, v in signed.items() if k.lower().startswith("x-")}
        chunks = (raw[i : i + 65536] for i in range(0, len(raw), 65536))
        response = hooks.client.post(PATH, content=chunks, headers=headers)
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "payload_too_large"
    assert await hooks.signal_count() == 0


async def test_another_organisation_cannot_resolve_our_emails(hooks) -> None:
    action_id = await hooks.email("m6")
    response = hooks.post(
        PATH, events(reply(hooks, "ev-13", "<m6@mail>", sentiment="positive")), org="south"
    )
    assert response.status_code == 200
    assert response.json()["unmatched"] == [{"source": "email_provider", "externalId": "ev-13"}]
    assert (await hooks.outcomes(action_id))["email_reply"].status == "open"
