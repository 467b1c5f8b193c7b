"""Hostile input to the Slack webhooks (issue #16), signed as Slack signs it: never a 500.
Headers are parsed strictly (``"²".isdigit()`` is true in Python, yet ``int("²")`` raises);
text no database stores is refused naming its field; a rating that is no rating is refused the
way Slack expects for an interaction: 200 at once, and the person is told."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from backend.slack.alert_blocks import ALERT_ACKNOWLEDGE, ALERT_SNOOZE
from backend.slack.interactions import _alert_click
from backend.slack.receiver import Rejected
from backend.slack.signing import SlackSignatureError, check_timestamp
from tests.backend.slack.conftest import (
    SlackWorld,
    click,
    reaction,
    signed_headers,
    view_submission,
)
from tests.backend.webhooks.conftest import raw_post


@pytest.mark.parametrize("header", ["\xb2", "1\xb2", "\u0661", "9" * 5000, "-1", ""])
def test_the_slack_timestamp_is_ascii_digits_only(header: str) -> None:
    with pytest.raises(SlackSignatureError, match="must be unix seconds"):
        check_timestamp(header, now=1531420618.0)


@pytest.mark.parametrize("path", ["/webhooks/slack/interactions", "/webhooks/slack/events"])
@pytest.mark.parametrize("timestamp", [b"\xb2", b"17\xb2"])
async def test_a_timestamp_header_of_no_ascii_digits_is_401(
    slack: SlackWorld, path: str, timestamp: bytes
) -> None:
    """The byte 0xB2 arrives as "²" (header bytes are read as Latin-1)."""
    body = urlencode({"payload": json.dumps({"type": "block_actions"})}).encode()
    signature = signed_headers(body)["X-Slack-Signature"]
    headers = {
        "content-type": b"application/x-www-form-urlencoded",
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": signature.encode(),
    }
    status, answer = raw_post(slack.client, path, body, headers)
    assert status == 401 and "unix seconds" in answer["error"]


@pytest.mark.parametrize("value", ["\xb2", "9" * 5000, "", "+3", "0"])
async def test_a_rating_that_is_no_rating_is_refused_and_the_person_told(
    slack: SlackWorld, value: str
) -> None:
    response = slack.interact(
        click("UREPA1", slack.decision_post, "feedback_rating", selected=value)
    )
    assert (response.status_code, response.content) == (200, b"")
    assert await slack.feedback() == []
    [ephemeral] = slack.slack.of("chat.postEphemeral")
    assert ephemeral.arguments["user"] == "UREPA1"
    assert "not stored" in ephemeral.arguments["text"]


async def test_a_modal_rating_that_is_no_rating_names_the_rating(slack: SlackWorld) -> None:
    metadata = json.dumps({"post": slack.decision_post.id})
    for rating in ("\xb2", "9" * 5000):
        response = slack.interact(view_submission("UREPA1", metadata, rating=rating, comment="x"))
        body = response.json()
        assert body["response_action"] == "errors" and list(body["errors"]) == ["rating"]
    assert await slack.feedback() == []


@pytest.mark.parametrize("text", ["\x00", "\ud83d"])
async def test_text_no_database_stores_is_refused_naming_it(slack: SlackWorld, text: str) -> None:
    payload = click("UREPA1", slack.email_post, "feedback_up", value="up")
    payload["user"]["id"] = f"U{text}"
    response = slack.interact(payload)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "payload.user.id"
    payload = click("UREPA1", slack.email_post, "feedback_up", value="up")
    payload["container"]["message_ts"] = f"1{text}"
    response = slack.interact(payload)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "payload.container.message_ts"

    metadata = json.dumps({"post": slack.email_post.id})
    response = slack.interact(view_submission("UREPA1", metadata, rating="up", comment=text))
    assert response.json()["errors"] == {
        "comment": "must not contain NUL characters or unpaired surrogates"
    }

    envelope = reaction(f"Ev{text}", "UREPA1", slack.email_post, "+1")
    response = slack.event(envelope)
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "event_id"
    response = slack.event(reaction("Ev1", "UREPA1", ("C1", f"1{text}"), "+1"))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "event.item.ts"
    # A team id no database stores names no installation: refused like an unsigned request.
    response = slack.event(reaction("Ev2", "UREPA1", slack.email_post, "+1", team=f"T{text}"))
    assert response.status_code == 401
    assert await slack.feedback() == [] and await slack.receipts() == []


@pytest.mark.parametrize(
    ("control", "field"),
    [
        ({"action_id": ALERT_ACKNOWLEDGE, "value": "\xb2"}, "payload.actions[0].value"),
        ({"action_id": ALERT_ACKNOWLEDGE, "value": "9" * 5000}, "payload.actions[0].value"),
        (
            {"action_id": ALERT_SNOOZE, "selected_option": {"value": "\xb2:1h"}},
            "payload.actions[0].selected_option.value",
        ),
    ],
)
def test_an_alert_control_of_no_ascii_digits_is_refused(control: dict, field: str) -> None:
    with pytest.raises(Rejected) as refused:
        _alert_click(control)
    assert refused.value.response.status_code == 400
    assert field.encode() in refused.value.response.body
