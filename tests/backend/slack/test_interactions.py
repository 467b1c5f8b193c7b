"""Clicks and the comment modal, signed as Slack signs them, against the real app and database;
the Slack stand-in records the calls the service makes back."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from backend.feedback.models import COMMENT_MAX_LENGTH
from tests.backend.slack.conftest import SlackWorld, click, signed_headers, view_submission


def _context_text(blocks: list[dict]) -> str:
    return next(b for b in blocks if b["type"] == "context")["elements"][0]["text"]


async def test_a_thumb_click_stores_the_rating_and_shows_who_rated(slack: SlackWorld) -> None:
    response = slack.interact(click("UREPA1", slack.email_post, "feedback_up", value="up"))
    assert response.status_code == 200 and response.content == b""
    [row] = await slack.feedback()
    assert (row.target_type, row.message_id, row.action_id, row.rating) == (
        "message",
        slack.message_id,
        None,
        1,
    )
    assert (row.author_id, row.channel, row.comment, row.prompted) == (
        slack.user_id("rep_a1"),
        "slack",
        None,
        False,
    )
    assert row.external_id == "click:13345224609.738474920.8088930838d88f008e0"
    [update] = slack.slack.of("chat.update")
    assert update.authorization == f"Bearer {slack.slack.token}"
    assert (update.arguments["channel"], update.arguments["ts"]) == (
        slack.email_post.channel,
        slack.email_post.ts,
    )
    assert _context_text(update.arguments["blocks"]) == "Rated: <@UREPA1> 👍"


async def test_a_second_click_changes_the_rating_instead_of_adding_one(slack: SlackWorld) -> None:
    slack.interact(click("UREPA1", slack.email_post, "feedback_up", value="up", trigger="t1"))
    slack.interact(click("UREPA1", slack.email_post, "feedback_down", value="down", trigger="t2"))
    [row] = await slack.feedback()
    assert (row.rating, row.external_id, row.author_id) == (0, "click:t2", slack.user_id("rep_a1"))
    updates = slack.slack.of("chat.update")
    assert [_context_text(u.arguments["blocks"]) for u in updates] == [
        "Rated: <@UREPA1> 👍",
        "Rated: <@UREPA1> 👎",
    ]


async def test_the_decision_select_rates_the_action_and_shows_every_rater(
    slack: SlackWorld,
) -> None:
    post = slack.decision_post
    slack.interact(click("UREPA1", post, "feedback_rating", selected="4", trigger="t1"))
    slack.interact(click("UMGRA", post, "feedback_rating", selected="2", trigger="t2"))
    slack.interact(click("UREPA1", post, "feedback_rating", selected="5", trigger="t3"))
    rows = await slack.feedback()
    assert [(r.target_type, r.action_id, r.message_id, r.author_id, r.rating) for r in rows] == [
        ("action", post.action_id, None, slack.user_id("rep_a1"), 5),
        ("action", post.action_id, None, slack.user_id("manager_a"), 2),
    ]
    last = slack.slack.of("chat.update")[-1].arguments["blocks"]
    assert _context_text(last) == "Rated: <@UREPA1> 5/5 · <@UMGRA> 2/5"
    # The message keeps its select of the five levels.
    [select] = [
        e
        for b in last
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "static_select"
    ]
    assert [o["value"] for o in select["options"]] == ["1", "2", "3", "4", "5"]


async def test_a_click_keeps_the_comment_given_earlier(slack: SlackWorld) -> None:
    metadata = _open_modal(slack)
    slack.interact(view_submission("UREPA1", metadata, rating="up", comment="Good opener"))
    slack.interact(click("UREPA1", slack.email_post, "feedback_down", value="down"))
    [row] = await slack.feedback()
    assert (row.rating, row.comment) == (0, "Good opener")


def _open_modal(slack: SlackWorld, user: str = "UREPA1") -> str:
    response = slack.interact(
        click(
            user, slack.email_post, "feedback_comment", value="comment", trigger="trigger-comment"
        )
    )
    assert response.status_code == 200
    [opened] = slack.slack.of("views.open")
    slack.slack.clear()
    assert opened.arguments["trigger_id"] == "trigger-comment"
    return opened.arguments["view"]["private_metadata"]


async def test_add_comment_opens_a_modal_naming_the_target(slack: SlackWorld) -> None:
    slack.interact(click("UREPA1", slack.email_post, "feedback_up", value="up", trigger="t1"))
    slack.slack.clear()
    response = slack.interact(
        click(
            "UREPA1",
            slack.email_post,
            "feedback_comment",
            value="comment",
            trigger="trigger-comment",
        )
    )
    assert response.status_code == 200
    [opened] = slack.slack.of("views.open")
    view = opened.arguments["view"]
    assert json.loads(view["private_metadata"]) == {
        "post": slack.email_post.id,
        "target": "message",
        "id": slack.message_id,
    }
    assert view["callback_id"] == "feedback_comment"
    rating_block = next(b for b in view["blocks"] if b.get("block_id") == "rating")
    assert rating_block["element"]["initial_option"]["value"] == "up"  # the current rating
    comment_block = next(b for b in view["blocks"] if b.get("block_id") == "comment")
    assert comment_block["optional"] is True
    assert comment_block["element"]["max_length"] == COMMENT_MAX_LENGTH
    [row] = await slack.feedback()  # opening the modal stores nothing
    assert (row.rating, row.comment) == (1, None)


async def test_the_modal_stores_rating_and_comment(slack: SlackWorld) -> None:
    metadata = _open_modal(slack)
    response = slack.interact(
        view_submission("UREPA1", metadata, rating="down", comment="  Too pushy.  ")
    )
    assert response.status_code == 200 and response.content == b""  # closes the modal
    [row] = await slack.feedback()
    assert (row.target_type, row.message_id, row.rating, row.comment, row.channel) == (
        "message",
        slack.message_id,
        0,
        "Too pushy.",
        "slack",
    )
    assert row.external_id == "view:VMHU10V25"
    [update] = slack.slack.of("chat.update")
    assert _context_text(update.arguments["blocks"]) == "Rated: <@UREPA1> 👎"


async def test_a_comment_too_long_is_answered_with_errors_on_its_field(slack: SlackWorld) -> None:
    metadata = _open_modal(slack)
    too_long = "x" * (COMMENT_MAX_LENGTH + 1)
    response = slack.interact(view_submission("UREPA1", metadata, rating="up", comment=too_long))
    assert response.status_code == 200
    problem = f"must be at most {COMMENT_MAX_LENGTH} characters, got {len(too_long)}"
    assert response.json() == {"response_action": "errors", "errors": {"comment": problem}}
    assert await slack.feedback() == []
    assert slack.slack.calls == []


async def test_a_modal_without_a_rating_names_the_rating(slack: SlackWorld) -> None:
    metadata = _open_modal(slack)
    response = slack.interact(view_submission("UREPA1", metadata, rating=None, comment="hm"))
    body = response.json()
    assert body["response_action"] == "errors" and list(body["errors"]) == ["rating"]
    assert await slack.feedback() == []


async def test_an_unmapped_slack_user_is_asked_to_link_and_nothing_is_stored(
    slack: SlackWorld,
) -> None:
    response = slack.interact(click("UNOBODY", slack.email_post, "feedback_up", value="up"))
    assert response.status_code == 200
    assert await slack.feedback() == []
    [ephemeral] = slack.slack.of("chat.postEphemeral")
    assert (ephemeral.arguments["channel"], ephemeral.arguments["user"]) == (
        slack.email_post.channel,
        "UNOBODY",
    )
    assert "link your account" in ephemeral.arguments["text"]
    assert slack.slack.methods() == ["chat.postEphemeral"]  # no update, no modal
    slack.slack.clear()
    slack.interact(click("UNOBODY", slack.email_post, "feedback_comment", value="comment"))
    assert slack.slack.methods() == ["chat.postEphemeral"]  # no modal for a stranger either
    assert await slack.feedback() == []


async def test_a_person_outside_the_agents_scope_is_told_and_nothing_is_stored(
    slack: SlackWorld,
) -> None:
    # rep_b1 is mapped, but rep_a1's agent is not theirs to rate.
    slack.interact(click("UREPB1", slack.email_post, "feedback_up", value="up"))
    assert await slack.feedback() == []
    [ephemeral] = slack.slack.of("chat.postEphemeral")
    assert ephemeral.arguments["user"] == "UREPB1"
    assert "cannot rate" in ephemeral.arguments["text"]
    assert slack.slack.methods() == ["chat.postEphemeral"]


async def test_a_click_on_a_message_we_did_not_post_stores_nothing(slack: SlackWorld) -> None:
    payload = click("UREPA1", slack.email_post, "feedback_up", value="up")
    payload["container"]["message_ts"] = "1600000000.000001"
    response = slack.interact(payload)
    assert response.status_code == 200
    assert await slack.feedback() == []
    assert slack.slack.methods() == ["chat.postEphemeral"]


async def test_a_bad_signature_is_refused_before_anything_is_stored(slack: SlackWorld) -> None:
    payload = click("UREPA1", slack.email_post, "feedback_up", value="up")
    response = slack.interact(payload, secret="not-the-signing-secret")
    assert response.status_code == 401
    assert response.json() == {"error": "the signature does not match"}
    # A workspace we do not know fails the same way.
    stranger = click("UREPA1", slack.email_post, "feedback_up", value="up", team="T0STRANGER")
    assert slack.interact(stranger).status_code == 401
    unsigned = slack.client.post(
        "/webhooks/slack/interactions",
        content=b"payload=%7B%7D",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 401
    assert await slack.feedback() == []
    assert slack.slack.calls == []


async def test_an_old_timestamp_is_refused(slack: SlackWorld) -> None:
    payload = click("UREPA1", slack.email_post, "feedback_up", value="up")
    response = slack.interact(payload, timestamp=int(time.time()) - 6 * 60)
    assert response.status_code == 401
    assert "more than 300 s" in response.json()["error"]
    assert slack.interact(payload, timestamp=int(time.time()) - 4 * 60).status_code == 200
    assert len(await slack.feedback()) == 1


async def test_a_signed_body_without_a_payload_names_it(slack: SlackWorld) -> None:
    body = urlencode({"payload": "not json", "team_id": "T0NORTH01"}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)}
    response = slack.client.post("/webhooks/slack/interactions", content=body, headers=headers)
    # The team cannot be read from it, so no installation's secret applies: refused as unsigned.
    assert response.status_code == 401
    payload = click("UREPA1", slack.email_post, "feedback_up", value="up")
    del payload["container"]["message_ts"]
    response = slack.interact(payload)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "payload.container.message_ts"
    assert await slack.feedback() == []
