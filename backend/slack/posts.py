"""Our messages in Slack: mirror an action of the agent to the rep who owns it, and redraw every
message about a target when its ratings change (who rated what). Each Slack call happens outside
the database transaction; each failure is logged, never with a secret."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.agents.models import Agent
from backend.crm.models import Message
from backend.feedback.models import Feedback
from backend.orgs.models import User
from backend.prompts.models import FeedbackPrompt, PromptReason
from backend.slack.blocks import (
    PostContent,
    PromptView,
    Rater,
    post_blocks,
    post_text,
    reminder_text,
)
from backend.slack.client import SlackApiError, SlackClient
from backend.slack.models import PostKind, PostTarget, SlackInstallation, SlackPost
from backend.slack.secrets import SecretUnreadable
from backend.slack.service import (
    installation_for_organization,
    rated_by_thumb,
    slack_client,
)
from backend.state import AppState
from backend.unit_of_work import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Draft:
    installation: SlackInstallation
    action: AgentAction
    channel: str
    kind: PostKind
    target: PostTarget
    message_id: int | None
    content: PostContent


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{round(value * 100)}%"


def summary_line(action: AgentAction, agent_name: str, subject: str | None) -> str:
    """One line: what the agent did, about what, how sure it was and what its policy said."""
    what = action.action_type.replace("_", " ").capitalize()
    about = f": {subject}" if subject else ""
    confidence = f"confidence {_percent(action.confidence)}"
    if action.calibrated_confidence is not None:
        confidence += f" (calibrated {_percent(action.calibrated_confidence)})"
    decision = f", decision: {action.decision}" if action.decision else ""
    return f"{what} by {agent_name}{about} — {confidence}{decision}"


def action_link(base_url: str, action_id: int) -> str:
    return f"{base_url.rstrip('/')}/?action={action_id}"


async def raters(session: AsyncSession, post: SlackPost) -> list[Rater]:
    """Everyone's current rating of the post's target, from any channel, oldest first."""
    column = Feedback.message_id if rated_by_thumb(post) else Feedback.action_id
    target_id = post.message_id if rated_by_thumb(post) else post.action_id
    rows = await session.execute(
        select(User.name, User.slack_user_id, Feedback.rating)
        .join(User, User.id == Feedback.author_id)
        .where(Feedback.organization_id == post.organization_id, column == target_id)
        .order_by(Feedback.created_at, Feedback.id)
    )
    return [Rater(name, slack_user_id, rating) for name, slack_user_id, rating in rows]


async def _content(
    session: AsyncSession,
    action: AgentAction,
    *,
    thumb: bool,
    prompt: bool,
    base_url: str,
    post: SlackPost | None = None,
) -> PostContent:
    agent_name = await session.scalar(select(Agent.name).where(Agent.id == action.agent_id))
    subject = None
    if action.message_id is not None:
        subject = await session.scalar(
            select(Message.subject).where(Message.id == action.message_id)
        )
    subject = subject or action.details.get("subject")
    return PostContent(
        summary=summary_line(
            action,
            agent_name or f"agent {action.agent_id}",
            subject if isinstance(subject, str) else None,
        ),
        link=action_link(base_url, action.id),
        rated_by_thumb=thumb,
        prompt=await prompt_view(session, action.id) if prompt else None,
        raters=await raters(session, post) if post is not None else (),
    )


async def prompt_view(session: AsyncSession, action_id: int) -> PromptView | None:
    """Where the prompt about the action stands (the first one, if several people were asked)."""
    prompt = await session.scalar(
        select(FeedbackPrompt)
        .where(FeedbackPrompt.action_id == action_id)
        .order_by(FeedbackPrompt.id)
        .limit(1)
    )
    if prompt is None:
        return None
    return PromptView(
        state=prompt.state,
        critical=prompt.reason == PromptReason.CRITICAL_ACTION.value,
        expires_at=prompt.expires_at,
        answered_channel=prompt.answered_channel,
    )


async def post_summary(session: AsyncSession, post: SlackPost) -> str:
    """The one-line summary of what the post is about (the comment modal repeats it)."""
    action = await session.get(AgentAction, post.action_id) if post.action_id else None
    if action is None:
        return ""
    content = await _content(session, action, thumb=rated_by_thumb(post), prompt=False, base_url="")
    return content.summary


async def _draft(
    session: AsyncSession, action_id: int, kind: PostKind | None, base_url: str
) -> _Draft | None:
    action = await session.get(AgentAction, action_id)
    if action is None:
        return None
    installation = await installation_for_organization(session, action.organization_id)
    if installation is None:
        return None
    owner = await session.scalar(
        select(User).join(Agent, Agent.owner_id == User.id).where(Agent.id == action.agent_id)
    )
    channel = owner.slack_user_id if owner is not None and owner.active else None
    channel = channel or installation.default_channel
    if channel is None:
        return None
    # A sent message with the provider's id is rated with a thumb; decisions, prompts (which ask
    # about the action) and actions with nothing to point at 1..5.
    message_id = None
    if action.message_id is not None and not action.is_critical and kind is not PostKind.PROMPT:
        external = await session.scalar(
            select(Message.external_message_id).where(Message.id == action.message_id)
        )
        message_id = action.message_id if external else None
    target = PostTarget.MESSAGE if message_id is not None else PostTarget.ACTION
    if kind is None:
        kind = PostKind.MESSAGE if target is PostTarget.MESSAGE else PostKind.ACTION
    content = await _content(
        session,
        action,
        thumb=target is PostTarget.MESSAGE,
        prompt=kind is PostKind.PROMPT,
        base_url=base_url,
    )
    if kind is PostKind.PROMPT and content.prompt is None:
        return None  # nobody was asked about this action
    return _Draft(installation, action, channel, kind, target, message_id, content)


async def mirror_action(
    state: AppState, action_id: int, *, kind: PostKind | None = None
) -> SlackPost | None:
    """Post the action to the Slack user owning its agent (a direct message; the installation's
    default channel when the owner has no Slack id) and remember where, so clicks, reactions and
    updates find it. None when the organisation has no Slack or nobody to post to (or, for a
    prompt, nobody was asked); an action already posted as ``kind`` is not posted again.
    Raises SlackApiError when Slack refuses."""
    base_url = state.settings.public_base_url
    async with state.sessions() as session:
        draft = await _draft(session, action_id, kind, base_url)
        if draft is None:
            return None
        posted = await session.scalar(
            select(SlackPost).where(
                SlackPost.organization_id == draft.action.organization_id,
                SlackPost.action_id == action_id,
                SlackPost.kind == draft.kind.value,
            )
        )
        if posted is not None:
            return posted
    client = slack_client(draft.installation, state.settings.secret_key)
    answer = await client.post_message(
        channel=draft.channel, text=post_text(draft.content), blocks=post_blocks(draft.content)
    )
    channel, ts = answer.get("channel"), answer.get("ts")
    if not isinstance(channel, str) or not isinstance(ts, str):
        raise SlackApiError("chat.postMessage", "the answer has no channel and ts")
    async with transaction(state.sessions) as session:
        post = SlackPost(
            organization_id=draft.action.organization_id,
            channel=channel,
            ts=ts,
            kind=draft.kind.value,
            target_type=draft.target.value,
            action_id=action_id,
            message_id=draft.message_id,
            agent_id=draft.action.agent_id,
        )
        session.add(post)
    return post


async def _posts_of(session: AsyncSession, post: SlackPost) -> list[SlackPost]:
    same = (
        SlackPost.message_id == post.message_id
        if rated_by_thumb(post)
        else SlackPost.action_id == post.action_id
    )
    return list(
        await session.scalars(
            select(SlackPost)
            .where(
                SlackPost.organization_id == post.organization_id,
                SlackPost.target_type == post.target_type,
                same,
            )
            .order_by(SlackPost.id)
        )
    )


async def refresh_posts(
    state: AppState, post: SlackPost, *, client: SlackClient | None = None
) -> int:
    """Redraw every message about ``post``'s target with who rated what (``chat.update``);
    the number updated. Failures are logged and skipped: the ratings are stored already."""
    base_url = state.settings.public_base_url
    updates = []
    async with state.sessions() as session:
        installation = await installation_for_organization(session, post.organization_id)
        if installation is None:
            return 0
        for each in await _posts_of(session, post):
            action = await session.get(AgentAction, each.action_id) if each.action_id else None
            if action is None:
                continue
            content = await _content(
                session,
                action,
                thumb=rated_by_thumb(each),
                prompt=each.kind == PostKind.PROMPT.value,
                base_url=base_url,
                post=each,
            )
            updates.append((each, content))
    try:
        client = client or slack_client(installation, state.settings.secret_key)
    except SecretUnreadable as exc:
        log.warning("Slack messages of organisation %s not updated: %s", post.organization_id, exc)
        return 0
    done = 0
    for each, content in updates:
        try:
            await client.update_message(
                channel=each.channel,
                ts=each.ts,
                text=post_text(content),
                blocks=post_blocks(content),
            )
            done += 1
        except SlackApiError as exc:
            log.warning("Slack message %s/%s not updated: %s", each.channel, each.ts, exc)
    return done


async def refresh_posts_about(
    state: AppState,
    organization_id: int,
    *,
    action_id: int | None = None,
    message_id: int | None = None,
) -> int:
    """Redraw our messages about an action or a message after it was rated elsewhere (the
    dashboard, the API, Gmail, a prompt answered): the number updated, 0 when none was posted."""
    column = SlackPost.action_id if action_id is not None else SlackPost.message_id
    target = PostTarget.ACTION if action_id is not None else PostTarget.MESSAGE
    async with state.sessions() as session:
        post = await session.scalar(
            select(SlackPost)
            .where(
                SlackPost.organization_id == organization_id,
                SlackPost.target_type == target.value,
                column == (action_id if action_id is not None else message_id),
            )
            .limit(1)
        )
    return 0 if post is None else await refresh_posts(state, post)


async def remind_in_slack(state: AppState, organization_id: int, action_id: int) -> bool:
    """Reply in the thread of the prompt's message that the rating is still wanted; False when
    the prompt was not posted to Slack. Raises SlackApiError when Slack refuses."""
    async with state.sessions() as session:
        post = await session.scalar(
            select(SlackPost).where(
                SlackPost.organization_id == organization_id,
                SlackPost.action_id == action_id,
                SlackPost.kind == PostKind.PROMPT.value,
            )
        )
        installation = await installation_for_organization(session, organization_id)
        view = await prompt_view(session, action_id)
        if post is None or installation is None or view is None:
            return False
        summary = await post_summary(session, post)
    client = slack_client(installation, state.settings.secret_key)
    await client.post_message(
        channel=post.channel, text=reminder_text(view, summary), thread_ts=post.ts
    )
    return True
