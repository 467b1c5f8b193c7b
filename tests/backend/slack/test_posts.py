"""Mirroring the agent's work to its rep in Slack, and the Web API client it uses."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.actions.models import AgentAction
from backend.auth.service import viewer_for_user
from backend.database import utcnow
from backend.feedback.models import Feedback
from backend.feedback.service import FeedbackInput, submit_feedback
from backend.prompts.models import FeedbackPrompt
from backend.prompts.service import PromptPolicy, prompt_critical_action
from backend.slack.client import SlackApiError, SlackClient
from backend.slack.models import PostKind, SlackPost
from backend.slack.posts import mirror_action, refresh_posts, refresh_posts_about
from backend.unit_of_work import transaction
from tests.backend.slack.conftest import BOT_TOKEN, SlackWorld, click
from tests.backend.slack.standin import SlackStandIn


def _elements(blocks: list[dict]) -> list[dict]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def test_mirrored_actions_are_posted_to_the_owner_and_remembered(
    slack: SlackWorld,
) -> None:
    async with slack.state.sessions() as session:
        posts = list(await session.scalars(select(SlackPost).order_by(SlackPost.id)))
    assert [(p.channel, p.kind, p.target_type, p.message_id) for p in posts] == [
        ("DREPA1", "message", "message", slack.message_id),
        ("DREPA1", "action", "action", None),
    ]
    assert posts[0].ts != posts[1].ts
    assert all(p.agent_id == slack.world.agents["rep_a1"].id for p in posts)


async def test_the_posted_message_has_summary_link_and_controls(slack: SlackWorld) -> None:
    async with transaction(slack.state.sessions) as session:
        await session.delete(await session.get(SlackPost, slack.email_post.id))
        await session.delete(await session.get(SlackPost, slack.decision_post.id))
    email = await mirror_action(slack.state, slack.email_post.action_id)
    decision = await mirror_action(slack.state, slack.decision_post.action_id)
    assert email is not None and decision is not None
    first, second = slack.slack.of("chat.postMessage")
    assert first.authorization == f"Bearer {BOT_TOKEN}"
    assert first.content_type == "application/json;charset=utf-8"  # as Slack's SDK sends it
    assert first.arguments["channel"] == "UREPA1"  # a direct message to the owning rep
    summary = first.arguments["blocks"][0]["text"]["text"]
    assert summary.startswith("Email by agent_rep_a1: Intro to Acme — confidence 72%")
    assert f"<http://dashboard.test/?action={email.action_id}|Open in the dashboard>" in summary
    assert [e["action_id"] for e in _elements(first.arguments["blocks"])] == [
        "feedback_up",
        "feedback_down",
        "feedback_comment",
    ]
    assert [e["action_id"] for e in _elements(second.arguments["blocks"])] == [
        "feedback_rating",
        "feedback_comment",
    ]
    assert second.arguments["blocks"][0]["text"]["text"].startswith("Stage progression by")


async def _ask_about_decision(slack: SlackWorld) -> FeedbackPrompt:
    async with transaction(slack.state.sessions) as session:
        action = await session.get(AgentAction, slack.decision_post.action_id)
        assert action is not None
        prompt = await prompt_critical_action(session, action, policy=PromptPolicy(), now=utcnow())
    assert prompt is not None
    return prompt


async def test_a_prompt_is_posted_only_when_someone_was_asked(slack: SlackWorld) -> None:
    assert (
        await mirror_action(slack.state, slack.decision_post.action_id, kind=PostKind.PROMPT)
        is None
    )
    assert slack.slack.calls == []


async def test_an_action_is_posted_once_per_kind(slack: SlackWorld) -> None:
    again = await mirror_action(slack.state, slack.email_post.action_id)
    assert again is not None and again.id == slack.email_post.id
    assert slack.slack.calls == []
    await _ask_about_decision(slack)
    prompt = await mirror_action(slack.state, slack.decision_post.action_id, kind=PostKind.PROMPT)
    assert prompt is not None and prompt.kind == "prompt"
    [posted] = slack.slack.of("chat.postMessage")
    assert "Your feedback is requested" in posted.arguments["blocks"][0]["text"]["text"]


async def test_a_rating_on_a_prompt_is_marked_prompted_and_answers_it(slack: SlackWorld) -> None:
    asked = await _ask_about_decision(slack)
    prompt = await mirror_action(slack.state, slack.decision_post.action_id, kind=PostKind.PROMPT)
    assert prompt is not None
    slack.interact(click("UREPA1", prompt, "feedback_rating", selected="3"))
    [row] = await slack.feedback()
    assert (row.action_id, row.rating, row.prompted) == (prompt.action_id, 3, True)
    async with slack.state.sessions() as session:
        answered = await session.get(FeedbackPrompt, asked.id)
    assert answered is not None
    assert (answered.state, answered.answered_channel, answered.feedback_id) == (
        "answered",
        "slack",
        row.id,
    )
    [shown] = [c for c in slack.slack.of("chat.update") if c.arguments["ts"] == prompt.ts]
    assert "Thanks, answered* via slack" in shown.arguments["blocks"][0]["text"]["text"]
    # Both messages about the decision show the rating.
    updated = {(c.arguments["channel"], c.arguments["ts"]) for c in slack.slack.of("chat.update")}
    assert updated == {
        (prompt.channel, prompt.ts),
        (slack.decision_post.channel, slack.decision_post.ts),
    }


async def test_an_organisation_without_slack_posts_nothing(slack: SlackWorld) -> None:
    async with transaction(slack.state.sessions) as session:
        south_agent = slack.world.agents["rep_s1"]
        action = AgentAction(
            organization_id=south_agent.organization_id,
            agent_id=south_agent.id,
            action_type="escalation",
            confidence=0.3,
            idempotency_key="esc-1",
            occurred_at=slack.email_post.created_at,
        )
        session.add(action)
    assert await mirror_action(slack.state, action.id) is None
    assert await mirror_action(slack.state, 10**9) is None
    assert slack.slack.calls == []


async def test_slack_refusals_surface_and_failed_updates_are_skipped(slack: SlackWorld) -> None:
    async with transaction(slack.state.sessions) as session:
        await session.delete(await session.get(SlackPost, slack.email_post.id))
    slack.slack.failures["chat.postMessage"] = "channel_not_found"
    with pytest.raises(SlackApiError) as caught:
        await mirror_action(slack.state, slack.email_post.action_id)
    assert caught.value.error == "channel_not_found"
    async with slack.state.sessions() as session:
        assert (
            await session.scalar(
                select(SlackPost).where(
                    SlackPost.action_id == slack.email_post.action_id, SlackPost.kind == "message"
                )
            )
            is None
        )
    slack.slack.failures["chat.update"] = "message_not_found"
    assert await refresh_posts(slack.state, slack.decision_post) == 0
    async with slack.state.sessions() as session:
        assert list(await session.scalars(select(Feedback))) == []


async def test_the_client_reports_slacks_errors(stand_in: SlackStandIn) -> None:
    client = SlackClient(token=BOT_TOKEN, base_url=stand_in.base_url)
    assert await client.team_id() == stand_in.team_id
    with pytest.raises(SlackApiError, match=r"Slack nope\.method failed: unknown_method"):
        await client.call("nope.method", {})
    wrong = SlackClient(token="xoxb-wrong", base_url=stand_in.base_url)
    with pytest.raises(SlackApiError) as caught:
        await wrong.team_id()
    assert caught.value.error == "invalid_auth"
    closed = SlackClient(token=BOT_TOKEN, base_url="http://127.0.0.1:9/api/", timeout=2)
    with pytest.raises(SlackApiError, match="cannot reach"):
        await closed.call("auth.test", {})


async def test_a_rating_given_elsewhere_is_shown_in_slack(slack: SlackWorld) -> None:
    manager = slack.world.users["manager_a"]
    async with transaction(slack.state.sessions) as session:
        viewer = await viewer_for_user(session, manager)
        await submit_feedback(
            session,
            viewer,
            FeedbackInput(
                channel="dashboard",
                action_id=slack.decision_post.action_id,
                rating=4,
            ),
        )
    # Redrawn once the rating committed (the `FeedbackGiven` handler), whatever the channel.
    [update] = slack.slack.of("chat.update")
    assert update.arguments["ts"] == slack.decision_post.ts
    context = next(b for b in update.arguments["blocks"] if b["type"] == "context")
    assert context["elements"][0]["text"] == "Rated: <@UMGRA> 4/5"
    org = slack.world.orgs["north"].id
    assert await refresh_posts_about(slack.state, org, action_id=slack.decision_post.action_id) == 1
    assert await refresh_posts_about(slack.state, org, message_id=10**9) == 0


async def test_recording_a_sent_email_mirrors_it_to_the_rep(state, world, stand_in) -> None:
    """The agent's sent messages and decisions reach the rep in Slack as they are recorded."""
    from tests.backend.slack.conftest import _record_actions, configure_north

    await configure_north(state, world, stand_in.base_url)
    await _record_actions(state, world)  # an e-mail and a stage change, through submit_action
    posted = stand_in.of("chat.postMessage")
    assert len(posted) == 2
    async with state.sessions() as session:
        from sqlalchemy import func, select

        from backend.slack.models import SlackPost

        assert await session.scalar(select(func.count()).select_from(SlackPost)) == 2
