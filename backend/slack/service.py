"""Use cases of Slack feedback: configure an organisation's workspace, and turn a click, a
reaction or a comment by a Slack user into that person's feedback (or retract it).

Every rating goes through ``backend.feedback.service.submit_feedback`` as the person the Slack
user is mapped to (``User.slack_user_id``), so it is checked against their scope exactly as on
the dashboard; one rating per person and target, whatever the channel. Services never commit.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.service import viewer_for_user
from backend.crm.models import Message
from backend.database import dialect_insert, utcnow
from backend.errors import DomainError, ErrorCode, Problems, flush
from backend.feedback.models import Feedback, FeedbackChannel
from backend.feedback.service import (
    FeedbackInput,
    SubmittedFeedback,
    submit_feedback,
    withdraw_feedback,
)
from backend.orgs.models import User
from backend.slack.blocks import DECISION_LABELS
from backend.slack.client import SlackClient
from backend.slack.models import (
    DEFAULT_API_BASE_URL,
    PostKind,
    PostTarget,
    SlackEventReceipt,
    SlackInstallation,
    SlackPost,
)
from backend.slack.secrets import decrypt_secret, encrypt_secret
from backend.webhooks.headers import ascii_int

TEAM_ID_PATTERN = re.compile(r"^[TE][A-Z0-9]{2,30}$")
CHANNEL_PATTERN = re.compile(r"^[A-Z0-9#][A-Za-z0-9_.-]{0,79}$")
REACTION_PREFIX = "reaction:"  # external_id of feedback given by an emoji reaction
# Slack's names of the thumbs (with their aliases); skin tones arrive as "+1::skin-tone-3".
REACTION_THUMBS = {"+1": "up", "thumbsup": "up", "-1": "down", "thumbsdown": "down"}
# A thumb on a decision (rated 1..5) counts as the ends of its scale.
DECISION_THUMB_RATING = {"up": 5, "down": 1}


class Handled(StrEnum):
    """What became of a Slack interaction."""

    STORED = "stored"  # the person's rating was stored (or changed)
    RETRACTED = "retracted"  # a removed reaction took its rating away
    UNMAPPED = "unmapped"  # the Slack user is no person of the organisation: nothing stored
    UNKNOWN_POST = "unknown_post"  # not a message we posted: nothing stored
    IGNORED = "ignored"  # not feedback (another emoji, nothing to retract)
    DUPLICATE = "duplicate"  # an event delivered before
    REJECTED = "rejected"  # the feedback service refused it; ``problem`` says why


@dataclass(frozen=True)
class SlackFeedback:
    handled: Handled
    post: SlackPost | None = None
    feedback: Feedback | None = None
    problem: str | None = None


# --- configuration -----------------------------------------------------------------------------


async def configure_slack(
    session: AsyncSession,
    *,
    organization_id: int,
    secret_key: str,
    slack_team_id: str,
    signing_secret: str,
    bot_token: str,
    api_base_url: str = DEFAULT_API_BASE_URL,
    default_channel: str | None = None,
) -> SlackInstallation:
    """Create or replace the organisation's Slack installation; secrets are stored encrypted."""
    problems = Problems()
    problems.require(
        bool(TEAM_ID_PATTERN.match(slack_team_id or "")),
        "slackTeamId",
        "must be a Slack team id such as T0123ABCD",
    )
    problems.require(
        bool((signing_secret or "").strip()),
        "signingSecret",
        "must not be empty: the app's Signing Secret (Basic Information)",
    )
    problems.require(
        (bot_token or "").startswith("xoxb-"),
        "botToken",
        "must be the app's Bot User OAuth Token (xoxb-...)",
    )
    problems.require(
        api_base_url.startswith(("https://", "http://")) and len(api_base_url) <= 300,
        "apiBaseUrl",
        "must be an http(s) URL of at most 300 characters",
    )
    problems.require(
        default_channel is None or bool(CHANNEL_PATTERN.match(default_channel)),
        "defaultChannel",
        "must be a Slack channel id or name",
    )
    problems.raise_if_any()
    installation = await session.scalar(
        select(SlackInstallation).where(SlackInstallation.organization_id == organization_id)
    )
    if installation is None:
        installation = SlackInstallation(organization_id=organization_id)
        session.add(installation)
    installation.slack_team_id = slack_team_id
    installation.signing_secret_encrypted = encrypt_secret(secret_key, signing_secret.strip())
    installation.bot_token_encrypted = encrypt_secret(secret_key, bot_token.strip())
    installation.api_base_url = api_base_url
    installation.default_channel = default_channel
    installation.updated_at = utcnow()
    await flush(session)  # another organisation's team id -> conflict on slack_team_id
    return installation


async def installation_for_team(session: AsyncSession, team_id: str) -> SlackInstallation | None:
    return await session.scalar(
        select(SlackInstallation).where(SlackInstallation.slack_team_id == team_id)
    )


async def installation_for_organization(
    session: AsyncSession, organization_id: int
) -> SlackInstallation | None:
    return await session.scalar(
        select(SlackInstallation).where(SlackInstallation.organization_id == organization_id)
    )


def slack_client(installation: SlackInstallation, secret_key: str) -> SlackClient:
    token = decrypt_secret(secret_key, installation.bot_token_encrypted, what="bot token")
    return SlackClient(token=token, base_url=installation.api_base_url)


def signing_secret_of(installation: SlackInstallation, secret_key: str) -> str:
    return decrypt_secret(secret_key, installation.signing_secret_encrypted, what="signing secret")


# --- who and what ------------------------------------------------------------------------------


async def person_for(
    session: AsyncSession, organization_id: int, slack_user_id: str
) -> User | None:
    """The active person the Slack user is; None when unmapped (or mapped twice: ambiguous)."""
    people = list(
        await session.scalars(
            select(User)
            .where(
                User.organization_id == organization_id,
                User.slack_user_id == slack_user_id,
                User.active.is_(True),
            )
            .limit(2)
        )
    )
    return people[0] if len(people) == 1 else None


async def post_at(
    session: AsyncSession, organization_id: int, channel: str, ts: str
) -> SlackPost | None:
    return await session.scalar(
        select(SlackPost).where(
            SlackPost.organization_id == organization_id,
            SlackPost.channel == channel,
            SlackPost.ts == ts,
        )
    )


async def post_by_id(session: AsyncSession, organization_id: int, post_id: Any) -> SlackPost | None:
    if not isinstance(post_id, int) or isinstance(post_id, bool):
        return None
    return await session.scalar(
        select(SlackPost).where(
            SlackPost.organization_id == organization_id, SlackPost.id == post_id
        )
    )


def rated_by_thumb(post: SlackPost) -> bool:
    return post.target_type == PostTarget.MESSAGE.value


def _target_column(post: SlackPost) -> tuple[Any, int]:
    if rated_by_thumb(post):
        assert post.message_id is not None
        return Feedback.message_id, post.message_id
    assert post.action_id is not None
    return Feedback.action_id, post.action_id


async def existing_feedback(
    session: AsyncSession, post: SlackPost, author_id: int
) -> Feedback | None:
    column, target_id = _target_column(post)
    return await session.scalar(
        select(Feedback).where(Feedback.author_id == author_id, column == target_id)
    )


async def _feedback_input(
    session: AsyncSession,
    post: SlackPost,
    *,
    thumb: str | None,
    rating: int | None,
    comment: str | None,
    external_id: str,
) -> FeedbackInput:
    common: dict[str, Any] = {
        "channel": FeedbackChannel.SLACK,
        "comment": comment,
        "external_id": external_id[:200],
        "prompted": post.kind == PostKind.PROMPT.value,
    }
    if rated_by_thumb(post):
        message_external_id = await session.scalar(
            select(Message.external_message_id).where(Message.id == post.message_id)
        )
        return FeedbackInput(
            message_external_id=message_external_id or "", thumb=thumb, rating=rating, **common
        )
    return FeedbackInput(action_id=post.action_id, thumb=thumb, rating=rating, **common)


async def _submit(
    session: AsyncSession,
    person: User,
    post: SlackPost,
    *,
    thumb: str | None = None,
    rating: int | None = None,
    comment: str | None = None,
    keep_comment: bool = False,
    external_id: str,
) -> SubmittedFeedback:
    """Store ``person``'s rating of the post's target. A click keeps their earlier comment."""
    if keep_comment:
        earlier = await existing_feedback(session, post, person.id)
        comment = earlier.comment if earlier is not None else None
    data = await _feedback_input(
        session, post, thumb=thumb, rating=rating, comment=comment, external_id=external_id
    )
    return await submit_feedback(session, await viewer_for_user(session, person), data)


async def _person_and_post(
    session: AsyncSession,
    installation: SlackInstallation,
    *,
    slack_user_id: str,
    channel: str,
    ts: str,
) -> SlackFeedback | tuple[User, SlackPost]:
    post = await post_at(session, installation.organization_id, channel, ts)
    if post is None:
        return SlackFeedback(Handled.UNKNOWN_POST)
    person = await person_for(session, installation.organization_id, slack_user_id)
    if person is None:
        return SlackFeedback(Handled.UNMAPPED, post=post)
    return person, post


# --- clicks ------------------------------------------------------------------------------------


async def record_click(
    session: AsyncSession,
    installation: SlackInstallation,
    *,
    slack_user_id: str,
    channel: str,
    ts: str,
    thumb: str | None = None,
    rating: int | None = None,
    external_id: str,
) -> SlackFeedback:
    """A 👍/👎 button or the decision select on one of our messages: the person's rating of its
    target (a second click changes it). Raises DomainError when the feedback service refuses."""
    found = await _person_and_post(
        session, installation, slack_user_id=slack_user_id, channel=channel, ts=ts
    )
    if isinstance(found, SlackFeedback):
        return found
    person, post = found
    if thumb is not None and not rated_by_thumb(post):
        # A thumb on a decision (only reachable through a reaction) takes the scale's ends.
        rating = DECISION_THUMB_RATING[thumb]
        thumb = None
    submitted = await _submit(
        session,
        person,
        post,
        thumb=thumb,
        rating=rating,
        keep_comment=True,
        external_id=external_id,
    )
    return SlackFeedback(Handled.STORED, post=post, feedback=submitted.feedback)


# --- reactions ---------------------------------------------------------------------------------


def reaction_thumb(reaction: str) -> str | None:
    """ "up", "down" or None (another emoji); skin tones do not matter."""
    return REACTION_THUMBS.get(reaction.split("::", 1)[0])


async def note_receipt(session: AsyncSession, organization_id: int, event_id: str) -> bool:
    """Note the event (or an interaction's key) as handled; False when it was (Slack's retry of
    a delivery we had)."""
    insert = dialect_insert(session, SlackEventReceipt)
    statement = (
        insert.values(organization_id=organization_id, event_id=event_id[:64], received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["organization_id", "event_id"])
        .returning(SlackEventReceipt.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def record_reaction(
    session: AsyncSession,
    installation: SlackInstallation,
    *,
    event_id: str,
    slack_user_id: str,
    channel: str,
    ts: str,
    reaction: str,
    added: bool,
) -> SlackFeedback:
    """A thumbs reaction added to (or removed from) one of our messages: the person's thumb, or
    its retraction. Other emoji, other messages and unmapped people are ignored; an event is
    handled once whatever Slack's retries."""
    thumb = reaction_thumb(reaction)
    if thumb is None:
        return SlackFeedback(Handled.IGNORED)
    found = await _person_and_post(
        session, installation, slack_user_id=slack_user_id, channel=channel, ts=ts
    )
    if isinstance(found, SlackFeedback):
        return found
    person, post = found
    if not await note_receipt(session, installation.organization_id, event_id):
        return SlackFeedback(Handled.DUPLICATE, post=post)
    if not added:
        removed = await retract_feedback(
            session, installation.organization_id, author_id=person.id, post=post, thumb=thumb
        )
        return SlackFeedback(Handled.RETRACTED if removed else Handled.IGNORED, post=post)
    rating = None
    if not rated_by_thumb(post):
        rating = DECISION_THUMB_RATING[thumb]
        thumb = None
    submitted = await _submit(
        session,
        person,
        post,
        thumb=thumb,
        rating=rating,
        keep_comment=True,
        external_id=REACTION_PREFIX + event_id,
    )
    return SlackFeedback(Handled.STORED, post=post, feedback=submitted.feedback)


async def retract_feedback(
    session: AsyncSession, organization_id: int, *, author_id: int, post: SlackPost, thumb: str
) -> int:
    """Delete the author's rating of the post's target if a reaction of this thumb gave it (a
    rating given or changed since by a click, a comment or another channel stays)."""
    column, target_id = _target_column(post)
    rating = (1 if thumb == "up" else 0) if rated_by_thumb(post) else DECISION_THUMB_RATING[thumb]
    return await withdraw_feedback(
        session,
        organization_id=organization_id,
        author_id=author_id,
        target=column == target_id,
        channel=FeedbackChannel.SLACK,
        external_id_prefix=REACTION_PREFIX,
        rating=rating,
    )


# --- comments ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommentForm:
    """What the comment modal shows: the target (in private_metadata) and the current rating."""

    post: SlackPost
    metadata: dict[str, Any]
    rating: int | None
    comment: str | None


async def open_comment_modal(
    session: AsyncSession,
    installation: SlackInstallation,
    *,
    slack_user_id: str,
    channel: str,
    ts: str,
) -> SlackFeedback | CommentForm:
    """The form for "Add comment", prefilled with the person's rating and comment."""
    found = await _person_and_post(
        session, installation, slack_user_id=slack_user_id, channel=channel, ts=ts
    )
    if isinstance(found, SlackFeedback):
        return found
    person, post = found
    earlier = await existing_feedback(session, post, person.id)
    target_id = post.message_id if rated_by_thumb(post) else post.action_id
    metadata = {"post": post.id, "target": post.target_type, "id": target_id}
    return CommentForm(
        post, metadata, earlier.rating if earlier else None, earlier.comment if earlier else None
    )


def _modal_rating(post: SlackPost, value: str | None) -> tuple[str | None, int | None]:
    """The (thumb, rating) the modal's select stands for; a missing value stays missing, so the
    feedback service names the field."""
    if rated_by_thumb(post):
        return value, None
    rating = ascii_int(value, max_digits=1) if value is not None else None
    if rating in DECISION_LABELS:
        return None, rating
    return None, None if value is None else -1


async def submit_comment(
    session: AsyncSession,
    installation: SlackInstallation,
    *,
    slack_user_id: str,
    metadata: dict[str, Any],
    rating: str | None,
    comment: str | None,
    external_id: str,
) -> SlackFeedback:
    """The comment modal's submission: the person's rating and comment of the target named by
    the modal's metadata. Raises InvalidInput naming ``rating`` or ``comment`` when refused."""
    post = await post_by_id(session, installation.organization_id, metadata.get("post"))
    if post is None:
        return SlackFeedback(Handled.UNKNOWN_POST)
    person = await person_for(session, installation.organization_id, slack_user_id)
    if person is None:
        return SlackFeedback(Handled.UNMAPPED, post=post)
    thumb, value = _modal_rating(post, rating)
    submitted = await _submit(
        session, person, post, thumb=thumb, rating=value, comment=comment, external_id=external_id
    )
    return SlackFeedback(Handled.STORED, post=post, feedback=submitted.feedback)


async def prune_event_receipts(session: AsyncSession, *, older_than: dt.datetime) -> int:
    """Forget deliveries older than Slack's retry horizon (it retries for about an hour)."""
    result = await session.execute(
        delete(SlackEventReceipt).where(SlackEventReceipt.received_at < older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def problem_text(error: DomainError) -> str:
    """A refusal, said to a person in Slack."""
    if error.code is ErrorCode.NOT_FOUND:
        return "You cannot rate this: it is not among the work you can see."
    if error.code is ErrorCode.FORBIDDEN:
        return f"You cannot rate this: {error.message}."
    return f"Your rating was not stored: {error.message}."
