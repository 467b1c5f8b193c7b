"""The Events API: the URL handshake, thumbs reactions on our messages (given, retracted),
Slack's retries, and everything that is not feedback, each leaving the database as it should."""

from __future__ import annotations

import time

from tests.backend.slack.conftest import SIGNING_SECRET, SlackWorld, click, reaction


def _context_text(blocks: list[dict]) -> str:
    return next(b for b in blocks if b["type"] == "context")["elements"][0]["text"]


async def test_url_verification_answers_the_challenge(slack: SlackWorld) -> None:
    handshake = {
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "type": "url_verification",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    }
    response = slack.event(handshake)
    assert response.status_code == 200
    assert response.json() == {"challenge": handshake["challenge"]}
    assert slack.event(handshake, secret="wrong" + SIGNING_SECRET).status_code == 401


async def test_a_thumbs_up_reaction_rates_and_its_removal_retracts(slack: SlackWorld) -> None:
    post = slack.email_post
    response = slack.event(reaction("Ev01", "UREPA1", post, "+1"))
    assert response.status_code == 200
    [row] = await slack.feedback()
    assert (row.target_type, row.message_id, row.author_id, row.rating, row.channel) == (
        "message",
        slack.message_id,
        slack.user_id("rep_a1"),
        1,
        "slack",
    )
    assert row.external_id == "reaction:Ev01"
    [update] = slack.slack.of("chat.update")
    assert (update.arguments["channel"], update.arguments["ts"]) == (post.channel, post.ts)
    assert _context_text(update.arguments["blocks"]) == "Rated: <@UREPA1> 👍"

    assert slack.event(reaction("Ev02", "UREPA1", post, "+1", added=False)).status_code == 200
    assert await slack.feedback() == []
    assert _context_text(slack.slack.of("chat.update")[-1].arguments["blocks"]) == (
        "No ratings yet."
    )
    assert await slack.receipts() == ["Ev01", "Ev02"]


async def test_aliases_and_skin_tones_of_the_thumbs_count(slack: SlackWorld) -> None:
    slack.event(reaction("Ev01", "UREPA1", slack.email_post, "thumbsdown"))
    slack.event(reaction("Ev02", "UMGRA", slack.email_post, "+1::skin-tone-4"))
    rows = await slack.feedback()
    assert [(r.author_id, r.rating) for r in rows] == [
        (slack.user_id("rep_a1"), 0),
        (slack.user_id("manager_a"), 1),
    ]


async def test_removing_the_other_thumb_leaves_the_rating(slack: SlackWorld) -> None:
    post = slack.email_post
    slack.event(reaction("Ev01", "UREPA1", post, "-1"))
    slack.event(reaction("Ev02", "UREPA1", post, "+1", added=False))  # 👍 was not what counted
    [row] = await slack.feedback()
    assert (row.rating, row.external_id) == (0, "reaction:Ev01")


async def test_removing_a_reaction_keeps_a_rating_given_by_a_click(slack: SlackWorld) -> None:
    post = slack.email_post
    slack.event(reaction("Ev01", "UREPA1", post, "+1"))
    slack.interact(click("UREPA1", post, "feedback_up", value="up", trigger="t1"))
    slack.event(reaction("Ev02", "UREPA1", post, "+1", added=False))
    [row] = await slack.feedback()
    assert (row.rating, row.external_id) == (1, "click:t1")


async def test_a_thumb_on_a_decision_takes_the_ends_of_its_scale(slack: SlackWorld) -> None:
    post = slack.decision_post
    slack.event(reaction("Ev01", "UREPA1", post, "thumbsup"))
    [row] = await slack.feedback()
    assert (row.target_type, row.action_id, row.rating) == ("action", post.action_id, 5)
    slack.event(reaction("Ev02", "UREPA1", post, "thumbsup", added=False))
    assert await slack.feedback() == []
    slack.event(reaction("Ev03", "UREPA1", post, "-1"))
    assert [r.rating for r in await slack.feedback()] == [1]


async def test_a_redelivered_event_counts_once(slack: SlackWorld) -> None:
    post = slack.email_post
    added = reaction("Ev01", "UREPA1", post, "+1")
    assert slack.event(added).status_code == 200
    assert slack.event(added, retry=1).status_code == 200
    assert len(slack.slack.of("chat.update")) == 1
    slack.event(reaction("Ev02", "UREPA1", post, "+1", added=False))
    assert slack.event(added, retry=2).status_code == 200  # a late retry does not re-add it
    assert await slack.feedback() == []
    assert await slack.receipts() == ["Ev01", "Ev02"]


async def test_other_emoji_other_messages_and_strangers_change_nothing(
    slack: SlackWorld,
) -> None:
    post = slack.email_post
    assert slack.event(reaction("Ev01", "UREPA1", post, "tada")).status_code == 200
    unknown = ("D0SOMEWHERE", "1600000000.000001")
    assert slack.event(reaction("Ev02", "UREPA1", unknown, "+1")).status_code == 200
    assert slack.event(reaction("Ev03", "UNOBODY", post, "+1")).status_code == 200
    on_a_file = reaction("Ev04", "UREPA1", post, "+1")
    on_a_file["event"]["item"] = {"type": "file", "file": "F0123"}
    assert slack.event(on_a_file).status_code == 200
    other = {
        **reaction("Ev05", "UREPA1", post, "+1"),
        "event": {"type": "app_mention", "user": "UREPA1", "text": "hi"},
    }
    assert slack.event(other).status_code == 200
    assert await slack.feedback() == []
    assert await slack.receipts() == []
    assert slack.slack.calls == []


async def test_bad_signature_old_timestamp_and_unknown_team_are_refused(
    slack: SlackWorld,
) -> None:
    event = reaction("Ev01", "UREPA1", slack.email_post, "+1")
    assert slack.event(event, secret="not-the-secret").status_code == 401
    assert slack.event(event, timestamp=int(time.time()) - 301).status_code == 401
    stranger = reaction("Ev01", "UREPA1", slack.email_post, "+1", team="T0STRANGER")
    assert slack.event(stranger).status_code == 401
    assert await slack.feedback() == []
    assert await slack.receipts() == []
    assert slack.slack.calls == []


async def test_a_signed_reaction_missing_a_field_names_it(slack: SlackWorld) -> None:
    event = reaction("Ev01", "UREPA1", slack.email_post, "+1")
    del event["event"]["item"]["ts"]
    response = slack.event(event)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["event.item.ts"]
    assert await slack.feedback() == []
    assert await slack.receipts() == []
