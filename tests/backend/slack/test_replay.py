"""Replays (issue #16): a Slack request re-sent byte for byte within its 5-minute window changes
nothing, whatever came after it. Every accepted request is remembered in the database (so
across processes) for longer than the window; on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import httpx2

from tests.backend.slack.conftest import SlackWorld, click, view_submission


def replay(slack: SlackWorld, sent: httpx2.Response) -> httpx2.Response:
    """The same bytes with the same headers (signature and timestamp), as an eavesdropper or a
    proxy retrying would send them."""
    request = sent.request
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return slack.client.post(request.url.path, content=request.content, headers=headers)


async def test_a_replayed_click_does_not_bring_back_an_earlier_rating(slack: SlackWorld) -> None:
    post = slack.decision_post
    first = slack.interact(click("UREPA1", post, "feedback_rating", selected="2", trigger="t1"))
    slack.interact(click("UREPA1", post, "feedback_rating", selected="4", trigger="t2"))
    [row] = await slack.feedback()
    assert row.rating == 4
    slack.slack.clear()
    again = replay(slack, first)
    assert (again.status_code, again.content) == (200, b"")
    [row] = await slack.feedback()
    assert row.rating == 4
    assert slack.slack.calls == []  # not even a redraw: nothing happened


async def test_a_replayed_modal_submission_changes_nothing(slack: SlackWorld) -> None:
    metadata = json.dumps({"post": slack.email_post.id})
    submitted = slack.interact(view_submission("UREPA1", metadata, rating="down", comment="No."))
    up = click("UREPA1", slack.email_post, "feedback_up", value="up", trigger="t3")
    slack.interact(up)
    assert replay(slack, submitted).status_code == 200
    [row] = await slack.feedback()
    assert (row.rating, row.comment) == (1, "No.")


async def test_a_refused_rating_is_not_remembered(slack: SlackWorld) -> None:
    """What the feedback service refuses stores nothing, not even the request's identity."""
    bad = click("UREPA1", slack.decision_post, "feedback_rating", selected="9")
    assert slack.interact(bad).status_code == 200
    assert await slack.feedback() == [] and await slack.receipts() == []
