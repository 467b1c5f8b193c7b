"""A prompt is closed by the prompted person's rating from any channel (dashboard, API, Gmail,
Slack), and every Slack message about it shows how it ended; a rating by anyone else leaves it
open, and only the prompted person may answer it."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from backend.app import create_app
from backend.database import utcnow
from backend.errors import DomainError, ErrorCode, InvalidInput
from backend.feedback.service import FeedbackInput
from backend.learning import answer_prompt, submit_rating, suggest_reviews
from backend.prompts.models import FeedbackPrompt
from backend.slack.models import PostKind, SlackPost
from backend.slack.posts import mirror_action
from backend.worker import run_jobs_once
from tests.backend.gmail.conftest import ESCALATION_THREAD_ID, Addon, event, rate_parameters
from tests.backend.prompts.conftest import HOUR, T0, Prompts, changes, rows
from tests.backend.slack.conftest import SlackWorld, click, configure_north
from tests.backend.slack.standin import SlackStandIn

RATE = "/gmail/actions/rate"


async def _critical(prompts: Prompts) -> FeedbackPrompt:
    await prompts.record("esc-1")
    [prompt] = await prompts.prompts()
    return prompt


async def _answered_by(prompts: Prompts, channel: str, prompt: FeedbackPrompt) -> FeedbackPrompt:
    """Answer ``prompt`` as rep_a1 at T0 + 2 h through ``channel``: the dashboard's rating of
    the action, or the API's answer relayed by the partner key."""
    if channel == "dashboard":
        rating = FeedbackInput(channel="dashboard", action_id=prompt.action_id, rating=4)
        await submit_rating(prompts.state, prompts.people["rep_a1"], rating, now=T0 + 2 * HOUR)
    else:
        await answer_prompt(
            prompts.state,
            prompts.partner,
            prompt_id=prompt.id,
            rating=4,
            comment="Right call",
            channel="api",
            author_email=" Rep_A1@North.example ",
            now=T0 + 2 * HOUR,
        )
    return await prompts.prompt(prompt.id)


@pytest.mark.parametrize("channel", ["dashboard", "api"])
async def test_the_prompted_persons_rating_answers_the_prompt(
    prompts: Prompts, channel: str
) -> None:
    prompt = await _critical(prompts)
    events = prompts.subscribe()
    answered = await _answered_by(prompts, channel, prompt)
    [rating] = await prompts.feedback()
    assert (rating.author_id, rating.action_id, rating.rating, rating.channel) == (
        prompts.user_id("rep_a1"),
        prompt.action_id,
        4,
        channel,
    )
    assert rating.prompted is True
    assert (answered.state, answered.answered_at, answered.answered_channel) == (
        "answered",
        T0 + 2 * HOUR,
        channel,
    )
    assert answered.feedback_id == rating.id
    assert await changes(events) == [(prompt.id, "answered", "answered")]
    await events.aclose()


async def test_answering_again_changes_the_rating_not_the_answer(prompts: Prompts) -> None:
    prompt = await _critical(prompts)
    rep = prompts.people["rep_a1"]
    first, submitted = await answer_prompt(
        prompts.state,
        rep,
        prompt_id=prompt.id,
        rating=2,
        comment=None,
        channel="dashboard",
        now=T0 + HOUR,
    )
    assert (first.state, first.answered_channel) == ("answered", "dashboard")
    assert submitted.created and submitted.feedback.prompted
    again, changed = await answer_prompt(
        prompts.state,
        rep,
        prompt_id=prompt.id,
        rating=5,
        comment="on second thought",
        channel="api",
        now=T0 + 3 * HOUR,
    )
    assert changed.created is False and changed.feedback.id == submitted.feedback.id
    [rating] = await prompts.feedback()
    assert (rating.rating, rating.comment, rating.prompted) == (5, "on second thought", True)
    assert (again.state, again.answered_at, again.answered_channel) == (
        "answered",
        T0 + HOUR,
        "dashboard",
    )


async def test_someone_elses_rating_leaves_the_prompt_open(prompts: Prompts) -> None:
    prompt = await _critical(prompts)
    events = prompts.subscribe()
    rated = await submit_rating(
        prompts.state,
        prompts.people["manager_a"],
        FeedbackInput(channel="dashboard", action_id=prompt.action_id, rating=1),
        now=T0 + HOUR,
    )
    assert rated.feedback.prompted is False
    assert (await prompts.prompt(prompt.id)).state == "open"
    assert await changes(events) == []

    with pytest.raises(DomainError) as raised:  # the manager sees the prompt, but it is not theirs
        await answer_prompt(
            prompts.state,
            prompts.people["manager_a"],
            prompt_id=prompt.id,
            rating=2,
            comment=None,
            channel="dashboard",
        )
    assert (raised.value.code, raised.value.field) == (ErrorCode.FORBIDDEN, "promptId")
    with pytest.raises(DomainError) as raised:  # a teammate does not even see it
        await answer_prompt(
            prompts.state,
            prompts.people["rep_a2"],
            prompt_id=prompt.id,
            rating=2,
            comment=None,
            channel="dashboard",
        )
    assert (raised.value.code, raised.value.field) == (ErrorCode.NOT_FOUND, "promptId")
    with pytest.raises(DomainError) as raised:
        await answer_prompt(
            prompts.state, prompts.agent, prompt_id=prompt.id, rating=5, comment=None, channel="api"
        )
    assert raised.value.code is ErrorCode.FORBIDDEN
    with pytest.raises(InvalidInput) as raised:  # the partner names someone else
        await answer_prompt(
            prompts.state,
            prompts.partner,
            prompt_id=prompt.id,
            rating=5,
            comment=None,
            channel="api",
            author_email=prompts.world.users["rep_a2"].email,
            now=T0 + HOUR,
        )
    assert [e.field for e in raised.value.errors] == ["authorEmail"]

    [only] = await prompts.feedback()  # the manager's rating, unchanged
    assert (only.author_id, only.rating) == (prompts.user_id("manager_a"), 1)
    assert (await prompts.prompt(prompt.id)).state == "open"
    assert await changes(events) == []
    await events.aclose()


# -- Slack: the prompt's message follows it -------------------------------------------------


async def _posted_prompt(
    prompts: Prompts, stand_in: SlackStandIn
) -> tuple[FeedbackPrompt, SlackPost]:
    await configure_north(prompts.state, prompts.world, stand_in.base_url)
    prompt = await _critical(prompts)
    [post] = await prompts.slack_posts()
    assert (post.kind, post.target_type, post.action_id) == ("prompt", "action", prompt.action_id)
    [sent] = stand_in.of("chat.postMessage")
    assert sent.arguments["channel"] == "UREPA1"
    assert sent.arguments["blocks"][0]["text"]["text"].startswith(
        "*Your feedback is requested* on this critical action (until 2026-10-02 09:00 UTC)"
    )
    stand_in.clear()
    return prompt, post


def _heading(stand_in: SlackStandIn, post: SlackPost) -> str:
    """The first line of the post as last redrawn."""
    [*_, update] = [c for c in stand_in.of("chat.update") if c.arguments["ts"] == post.ts]
    assert update.arguments["channel"] == post.channel
    return update.arguments["blocks"][0]["text"]["text"].split("\n")[0]


@pytest.mark.parametrize("channel", ["dashboard", "api"])
async def test_an_answer_elsewhere_redraws_the_prompt_in_slack(
    prompts: Prompts, stand_in: SlackStandIn, channel: str
) -> None:
    prompt, post = await _posted_prompt(prompts, stand_in)
    await _answered_by(prompts, channel, prompt)
    assert _heading(stand_in, post).startswith(f"✅ *Thanks, answered* via {channel}.")
    assert stand_in.of("chat.postMessage") == []


async def test_the_reminder_replies_in_the_thread_and_expiry_redraws(
    prompts: Prompts, stand_in: SlackStandIn
) -> None:
    _, post = await _posted_prompt(prompts, stand_in)
    await run_jobs_once(prompts.state, now=T0 + 13 * HOUR)
    [reminder] = stand_in.of("chat.postMessage")
    assert (reminder.arguments["channel"], reminder.arguments["thread_ts"]) == (
        post.channel,
        post.ts,
    )
    assert reminder.arguments["text"].startswith(
        "Reminder: your rating of this is still wanted until 2026-10-02 09:00 UTC. Escalation by"
    )
    assert stand_in.of("chat.update") == []
    await run_jobs_once(prompts.state, now=T0 + 14 * HOUR)  # once only
    assert len(stand_in.of("chat.postMessage")) == 1

    await run_jobs_once(prompts.state, now=T0 + 24 * HOUR)
    assert _heading(stand_in, post).startswith("⌛ *This request expired.*")
    assert len(stand_in.of("chat.postMessage")) == 1


async def test_a_thumb_on_the_mirrored_email_answers_the_prompt_on_its_action(
    prompts: Prompts, stand_in: SlackStandIn
) -> None:
    """The rep is asked about a routine e-mail (a suggestion) and 👍s the e-mail's own Slack
    message instead: the rating of the message answers the prompt about the action."""
    await configure_north(prompts.state, prompts.world, stand_in.base_url)
    now = utcnow()  # Slack's click below is handled on the real clock, within the prompt's time
    email = await prompts.record(
        "email-1", "email", message_external_id="<e1@mail>", subject="Intro", now=now
    )
    assert await suggest_reviews(prompts.state, now=now) == 1
    [prompt] = await prompts.prompts()
    email_post, prompt_post = await prompts.slack_posts()
    assert (email_post.kind, prompt_post.kind) == ("message", "prompt")
    assert prompt.action_id == prompt_post.action_id == email.action.id
    assert prompt.reason == "uncertain_confidence"
    stand_in.clear()
    with TestClient(create_app(prompts.state.settings)) as client:
        slack = SlackWorld(
            client,
            prompts.state,
            prompts.world,
            stand_in,
            email_post,
            prompt_post,
            email.action.message_id,
        )
        response = slack.interact(click("UREPA1", email_post, "feedback_up", value="up"))
    assert response.status_code == 200
    [rating] = await prompts.feedback()
    assert (rating.target_type, rating.message_id, rating.channel, rating.prompted) == (
        "message",
        email.action.message_id,
        "slack",
        True,
    )
    answered = await prompts.prompt(prompt.id)
    assert (answered.state, answered.answered_channel, answered.feedback_id) == (
        "answered",
        "slack",
        rating.id,
    )
    assert _heading(stand_in, prompt_post).startswith(
        "✅ *Thanks, answered* via slack. You can still change your rating of this action "
        "(suggested for review)"
    )
    redrawn = {c.arguments["ts"] for c in stand_in.of("chat.update")}
    assert redrawn == {email_post.ts, prompt_post.ts}


# -- Gmail ----------------------------------------------------------------------------------


async def test_gmail_ratings_answer_prompts_and_redraw_them_in_slack(
    addon: Addon, stand_in: SlackStandIn
) -> None:
    """The add-on's world: rep_a1's agent sent an e-mail, 42 % sure (suggested for review here;
    a thumb on the message in Gmail), and escalated another thread (prompted when recorded;
    rated in Gmail on the action scale)."""
    state, rep = addon.state, addon.world.users["rep_a1"]
    await configure_north(state, addon.world, stand_in.base_url)
    assert await suggest_reviews(state, now=utcnow()) == 1  # posts the e-mail's prompt
    escalation_post = await mirror_action(state, addon.escalation_action_id, kind=PostKind.PROMPT)
    email_post, again = await rows(state, SlackPost)
    assert escalation_post is not None and again.id == escalation_post.id
    stand_in.clear()

    thumb_up = event(addon.google, rep.email, parameters=rate_parameters("up"))
    assert addon.post(RATE, thumb_up).status_code == 200
    thumb_down = event(
        addon.google,
        rep.email,
        message_id=None,
        thread_id=ESCALATION_THREAD_ID,
        parameters={"threadId": ESCALATION_THREAD_ID, "thumb": "down"},
    )
    assert addon.post(RATE, thumb_down).status_code == 200

    thumb, rating = await addon.feedback()
    assert (thumb.target_type, thumb.rating, thumb.channel, thumb.prompted) == (
        "message",
        1,
        "gmail",
        True,
    )
    assert (rating.target_type, rating.action_id, rating.rating, rating.prompted) == (
        "action",
        addon.escalation_action_id,
        1,
        True,
    )
    answered = {p.action_id: p for p in await rows(state, FeedbackPrompt)}
    assert {a: (p.state, p.answered_channel, p.feedback_id) for a, p in answered.items()} == {
        addon.email_action_id: ("answered", "gmail", thumb.id),
        addon.escalation_action_id: ("answered", "gmail", rating.id),
    }
    for post in (email_post, escalation_post):
        assert _heading(stand_in, post).startswith("✅ *Thanks, answered* via gmail.")
