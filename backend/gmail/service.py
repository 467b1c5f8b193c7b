"""Use cases of the Gmail add-on: who the Gmail user is, which agent action an opened e-mail is,
what its card shows, and storing the person's 👍 / 👎 (and comment) through the feedback service.

What a thumb rates: the agent's e-mail itself (message target, 0 = 👎 / 1 = 👍), the same row a
👍 in Slack on the mirrored e-mail writes, so one person has one rating per e-mail whichever
channel they use. An action found through the thread that sent no e-mail of its own (an
escalation or a stage change recorded on the thread) is rated on the action scale: 👍 = 5,
👎 = 1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.agents.models import Agent
from backend.crm.models import Conversation, Message
from backend.errors import DomainError, ErrorCode
from backend.feedback.models import Feedback, FeedbackChannel, FeedbackTarget
from backend.feedback.service import FeedbackInput, SubmittedFeedback, Thumb, submit_feedback
from backend.orgs.models import User
from backend.outcomes.models import Outcome
from backend.outcomes.rules import OUTCOME_SCALES
from backend.viewer import Viewer, scoped

ACTION_RATING_FOR_THUMB = {Thumb.UP: 5, Thumb.DOWN: 1}


@dataclass(frozen=True)
class OpenedMessage:
    """The Gmail ids of the e-mail open in Gmail (`gmail.messageId`, `gmail.threadId`)."""

    message_id: str | None
    thread_id: str | None


@dataclass(frozen=True)
class OutcomeSoFar:
    outcome_type: str
    status: str  # open, resolved, needs_label
    level: str | None  # the level's label on the outcome's scale, once resolved
    due_at: dt.datetime | None
    resolved_at: dt.datetime | None


@dataclass(frozen=True)
class RatingTarget:
    kind: FeedbackTarget  # MESSAGE (thumbs 0/1) or ACTION (1..5)
    action_id: int
    message_id: int | None = None
    message_external_id: str | None = None


@dataclass(frozen=True)
class YourRating:
    rating: int  # on the target's scale
    thumb: Thumb | None  # None for a middling action rating (3/5) given elsewhere
    comment: str | None
    channel: str


@dataclass(frozen=True)
class ActionSummary:
    """What the card shows about one agent action, and the viewer's rating of it so far."""

    action_id: int
    action_type: str
    confidence: float
    calibrated_confidence: float | None
    decision: str | None
    is_critical: bool
    occurred_at: dt.datetime
    agent_name: str
    subject: str | None
    outcomes: tuple[OutcomeSoFar, ...]
    target: RatingTarget
    yours: YourRating | None


@dataclass(frozen=True)
class Rated:
    summary: ActionSummary
    created: bool  # False when it changed the person's earlier rating
    feedback: Feedback  # the rating as stored


async def person_by_email(session: AsyncSession, email: str) -> User | None:
    """The active user whose email is the Gmail user's (emails are unique across orgs)."""
    return await session.scalar(
        select(User).where(User.email == email.strip().lower(), User.active.is_(True))
    )


_Actions = TypeVar("_Actions", bound=Select)  # a select of agent actions


def _latest(statement: _Actions) -> _Actions:
    return statement.order_by(AgentAction.occurred_at.desc(), AgentAction.id.desc()).limit(1)


async def matched_action(
    session: AsyncSession, viewer: Viewer, opened: OpenedMessage
) -> AgentAction | None:
    """The agent action the opened e-mail is (by the Gmail message id the agent recorded), else
    the latest action in its thread (by thread id); None when neither is the agent's, or the
    viewer may not see it (a foreign e-mail behaves like an unknown one)."""
    base = scoped(select(AgentAction), AgentAction, viewer)
    if opened.message_id:
        by_message = base.join(Message, Message.id == AgentAction.message_id).where(
            Message.external_message_id == opened.message_id
        )
        action = await session.scalar(_latest(by_message))
        if action is not None:
            return action
    if opened.thread_id:
        by_thread = base.join(Conversation, Conversation.id == AgentAction.conversation_id).where(
            Conversation.external_thread_id == opened.thread_id
        )
        return await session.scalar(_latest(by_thread))
    return None


async def _target(session: AsyncSession, action: AgentAction) -> tuple[RatingTarget, str | None]:
    """What a thumb rates, and the subject to show."""
    if action.message_id is not None:
        message = await session.get(Message, action.message_id)
        if message is not None and message.external_message_id:
            target = RatingTarget(
                FeedbackTarget.MESSAGE, action.id, message.id, message.external_message_id
            )
            return target, message.subject
    subject = None
    if action.conversation_id is not None:
        subject = await session.scalar(
            select(Conversation.subject).where(Conversation.id == action.conversation_id)
        )
    return RatingTarget(FeedbackTarget.ACTION, action.id), subject


async def _yours(session: AsyncSession, author_id: int, target: RatingTarget) -> YourRating | None:
    column = (
        Feedback.message_id == target.message_id
        if target.kind is FeedbackTarget.MESSAGE
        else Feedback.action_id == target.action_id
    )
    row = await session.scalar(
        select(Feedback)
        .where(Feedback.author_id == author_id, column)
        .execution_options(populate_existing=True)
    )
    if row is None:
        return None
    if target.kind is FeedbackTarget.MESSAGE:
        thumb: Thumb | None = Thumb.UP if row.rating == 1 else Thumb.DOWN
    else:
        thumb = Thumb.UP if row.rating >= 4 else Thumb.DOWN if row.rating <= 2 else None
    return YourRating(row.rating, thumb, row.comment, row.channel)


def _outcome(row: Outcome) -> OutcomeSoFar:
    level = None
    if row.level is not None:
        scale = OUTCOME_SCALES.get(row.outcome_type)
        level = scale.label(row.level) if scale is not None else str(row.level)
    return OutcomeSoFar(row.outcome_type, row.status, level, row.due_at, row.resolved_at)


async def summarize(session: AsyncSession, viewer: Viewer, action: AgentAction) -> ActionSummary:
    """The card's view of ``action`` (within ``viewer``'s scope), with the viewer's rating."""
    outcomes = await session.scalars(
        scoped(select(Outcome), Outcome, viewer)
        .where(Outcome.action_id == action.id)
        .order_by(Outcome.id)
    )
    agent_name = await session.scalar(select(Agent.name).where(Agent.id == action.agent_id))
    target, subject = await _target(session, action)
    yours = await _yours(session, viewer.user_id, target) if viewer.user_id is not None else None
    return ActionSummary(
        action_id=action.id,
        action_type=action.action_type,
        confidence=action.confidence,
        calibrated_confidence=action.calibrated_confidence,
        decision=action.decision,
        is_critical=action.is_critical,
        occurred_at=action.occurred_at,
        agent_name=agent_name or f"agent {action.agent_id}",
        subject=subject,
        outcomes=tuple(_outcome(o) for o in outcomes),
        target=target,
        yours=yours,
    )


async def opened_summary(
    session: AsyncSession, viewer: Viewer, opened: OpenedMessage
) -> ActionSummary | None:
    action = await matched_action(session, viewer, opened)
    return None if action is None else await summarize(session, viewer, action)


async def _submit(
    session: AsyncSession,
    viewer: Viewer,
    target: RatingTarget,
    *,
    thumb: Thumb | None,
    rating: int | None,
    comment: str | None,
) -> SubmittedFeedback:
    if target.kind is FeedbackTarget.MESSAGE:
        data = FeedbackInput(
            channel=FeedbackChannel.GMAIL,
            message_external_id=target.message_external_id,
            thumb=thumb,
            comment=comment,
        )
    else:
        data = FeedbackInput(
            channel=FeedbackChannel.GMAIL,
            action_id=target.action_id,
            comment=comment,
            rating=rating if rating is not None else ACTION_RATING_FOR_THUMB[thumb or Thumb.UP],
        )
    return await submit_feedback(session, viewer, data)


async def rate(
    session: AsyncSession,
    viewer: Viewer,
    opened: OpenedMessage,
    thumb: Thumb,
    comment: str | None,
) -> Rated | None:
    """Store (or change) the viewer's thumb on the opened e-mail's action. A comment typed in
    the card goes with it; an empty comment field keeps the comment given before. None when
    the e-mail is not the agent's."""
    action = await matched_action(session, viewer, opened)
    if action is None:
        return None
    summary = await summarize(session, viewer, action)
    comment = (comment or "").strip() or (summary.yours.comment if summary.yours else None)
    submitted = await _submit(
        session, viewer, summary.target, thumb=thumb, rating=None, comment=comment
    )
    return Rated(await summarize(session, viewer, action), submitted.created, submitted.feedback)


async def save_comment(
    session: AsyncSession, viewer: Viewer, opened: OpenedMessage, comment: str | None
) -> Rated | None:
    """Attach ``comment`` to the viewer's existing rating (a rating is required: feedback is a
    rating with an optional comment). None when the e-mail is not the agent's."""
    action = await matched_action(session, viewer, opened)
    if action is None:
        return None
    summary = await summarize(session, viewer, action)
    earlier = summary.yours
    if earlier is None:
        raise DomainError(
            ErrorCode.REQUIRED,
            "rate it with 👍 or 👎 first; the comment goes with your rating",
            field="thumb",
        )
    if not (comment or "").strip():
        raise DomainError(ErrorCode.REQUIRED, "write a comment first", field="comment")
    by_thumb = summary.target.kind is FeedbackTarget.MESSAGE
    submitted = await _submit(
        session,
        viewer,
        summary.target,
        comment=comment,
        thumb=earlier.thumb if by_thumb else None,
        rating=None if by_thumb else earlier.rating,
    )
    return Rated(await summarize(session, viewer, action), submitted.created, submitted.feedback)
