"""Use cases of feedback: a person rates a message (thumb), an action (1..5) or a whole thread
(1..5, optionally per criterion). Rating the same target again updates the person's rating.

Who the author is: people rate as themselves. An integration partner's key with
`write:feedback` relays a person's rating and names them by `authorEmail`; the rating is then
checked against that person's scope, exactly as if they had given it themselves (partners have
no user of their own, and an anonymous rating could not be updated or audited). The agent's own
key never rates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.auth.service import viewer_for_user
from backend.crm.models import Conversation, Message
from backend.database import dialect_insert, utcnow
from backend.errors import DomainError, ErrorCode, NotFoundError, Problems, constraint_error
from backend.feedback.events import FeedbackGiven, FeedbackWithdrawn
from backend.feedback.models import (
    COMMENT_MAX_LENGTH,
    CriterionRating,
    Feedback,
    FeedbackChannel,
    FeedbackTarget,
    judged_wrong,
)
from backend.feedback.rollup import Change, add_changes, judged_action_type
from backend.orgs.models import User
from backend.unit_of_work import raise_event
from backend.viewer import Viewer, ViewerRole, scoped

CRITERION_PATTERN = re.compile(r"^[a-z_]{1,40}$")
MAX_CRITERIA = 10
EXTERNAL_ID_MAX_LENGTH = 200
# The threads a person was given to review outside their own scope (a peer reviewer's): they
# rate those like their own. Supplied by the caller, from the reviews domain.
AssignedThreads = Callable[[Viewer], Select]
RATERS = (ViewerRole.REP, ViewerRole.MANAGER, ViewerRole.EXECUTIVE, ViewerRole.ADMIN)
# The input field naming each target, and the column holding its id.
TARGET_FIELDS = {
    FeedbackTarget.ACTION: ("actionId", "action_id"),
    FeedbackTarget.MESSAGE: ("messageExternalId", "message_id"),
    FeedbackTarget.CONVERSATION: ("threadExternalId", "conversation_id"),
}


class Thumb(StrEnum):
    """A message's rating: stored as 1 (up) or 0 (down)."""

    DOWN = "down"
    UP = "up"


@dataclass(frozen=True)
class FeedbackInput:
    """Exactly one target: an action by id, a message or a thread by the provider's id."""

    channel: FeedbackChannel | str
    action_id: int | None = None
    message_external_id: str | None = None
    thread_external_id: str | None = None
    thumb: Thumb | str | None = None  # messages
    rating: int | None = None  # actions and conversations, 1..5
    criteria: Sequence[CriterionRating] = ()  # conversations only
    comment: str | None = None
    prompted: bool = False  # it answered a prompt of ours
    external_id: str | None = None  # the channel's id of the interaction (redeliveries)
    author_email: str | None = None  # only for integration keys: whose rating it is


@dataclass(frozen=True)
class SubmittedFeedback:
    feedback: Feedback
    created: bool  # False when it updated the author's earlier rating, or was a redelivery


@dataclass(frozen=True)
class _Target:
    kind: FeedbackTarget
    column: str
    id: int
    agent_id: int
    action_type: str | None  # whose work a rating of it judges (None: a thread)


def _target_kind(data: FeedbackInput, problems: Problems) -> FeedbackTarget | None:
    given = [
        kind
        for kind, value in (
            (FeedbackTarget.ACTION, data.action_id),
            (FeedbackTarget.MESSAGE, data.message_external_id),
            (FeedbackTarget.CONVERSATION, data.thread_external_id),
        )
        if value is not None
    ]
    if len(given) == 1:
        return given[0]
    code, what = (ErrorCode.REQUIRED, "name") if not given else (ErrorCode.INVALID, "name only")
    problems.errors.append(
        DomainError(code, f"{what} one target: actionId, messageExternalId or threadExternalId")
    )
    return None


def _check_rating(data: FeedbackInput, kind: FeedbackTarget | None, problems: Problems) -> int:
    """The stored rating on the target's scale (0/1 for a thumb, else 1..5)."""
    if kind is FeedbackTarget.MESSAGE:
        problems.require(
            data.rating is None,
            "rating",
            "a message is rated with `thumb` (up or down), not a number",
        )
        if data.thumb is None:
            problems.add("thumb", "rate the message: up or down", ErrorCode.REQUIRED)
            return 0
        if problems.require(
            data.thumb in Thumb.__members__.values(),
            "thumb",
            f"must be up or down, got {data.thumb!r}",
        ):
            return 1 if Thumb(data.thumb) is Thumb.UP else 0
        return 0
    if kind is not None:
        problems.require(
            data.thumb is None, "thumb", f"only messages take a thumb; rate the {kind.value} 1..5"
        )
        if data.rating is None:
            problems.add("rating", f"rate the {kind.value} from 1 to 5", ErrorCode.REQUIRED)
            return 0
        problems.require(
            isinstance(data.rating, int) and 1 <= data.rating <= 5,
            "rating",
            f"must be 1..5 on the {kind.value} scale, got {data.rating}",
        )
        return data.rating
    return 0


def _check_criteria(
    data: FeedbackInput, kind: FeedbackTarget | None, problems: Problems
) -> dict[str, int]:
    criteria = list(data.criteria)
    if not criteria:
        return {}
    if kind is not None and kind is not FeedbackTarget.CONVERSATION:
        problems.add("criteria", "only a conversation review rates criteria")
        return {}
    problems.require(
        len(criteria) <= MAX_CRITERIA,
        "criteria",
        f"at most {MAX_CRITERIA} criteria, got {len(criteria)}",
    )
    seen: dict[str, int] = {}
    for i, criterion in enumerate(criteria[:MAX_CRITERIA]):
        at = f"criteria[{i}]."
        if problems.require(
            bool(CRITERION_PATTERN.match(criterion.name or "")),
            at + "name",
            "must be 1..40 characters of a-z and '_', e.g. 'tone'",
        ):
            problems.require(
                criterion.name not in seen, at + "name", f"{criterion.name!r} is rated twice"
            )
        if problems.require(
            isinstance(criterion.rating, int) and 1 <= criterion.rating <= 5,
            at + "rating",
            f"must be 1..5, got {criterion.rating}",
        ):
            seen.setdefault(criterion.name, criterion.rating)
    return seen


def _check_text(data: FeedbackInput, problems: Problems) -> str | None:
    comment = (data.comment or "").strip() or None
    problems.require(
        comment is None or len(comment) <= COMMENT_MAX_LENGTH,
        "comment",
        f"must be at most {COMMENT_MAX_LENGTH} characters, got {len(comment or '')}",
    )
    problems.require(
        data.channel in FeedbackChannel.__members__.values(),
        "channel",
        "must be one of: " + ", ".join(c.value for c in FeedbackChannel),
    )
    problems.require(
        data.external_id is None or 0 < len(data.external_id) <= EXTERNAL_ID_MAX_LENGTH,
        "externalId",
        f"must be 1..{EXTERNAL_ID_MAX_LENGTH} characters",
    )
    for name, value in (
        ("messageExternalId", data.message_external_id),
        ("threadExternalId", data.thread_external_id),
    ):
        problems.require(value is None or 0 < len(value) <= 300, name, "must be 1..300 characters")
    return comment


async def _author(
    session: AsyncSession, viewer: Viewer, data: FeedbackInput, problems: Problems
) -> tuple[int, Viewer] | None:
    """The person whose rating it is, and the scope it is checked in."""
    if viewer.role is ViewerRole.AGENT:
        raise DomainError(ErrorCode.FORBIDDEN, "the agent does not rate its own work")
    viewer.require_scope("write:feedback")
    if viewer.user_id is not None:
        if viewer.role not in RATERS:
            raise DomainError(ErrorCode.FORBIDDEN, "only people rate the agent's work")
        problems.require(
            data.author_email is None,
            "authorEmail",
            "people rate as themselves; only integration keys name an author",
        )
        return viewer.user_id, viewer
    if not data.author_email:
        problems.add("authorEmail", "name the person whose rating this is", ErrorCode.REQUIRED)
        return None
    user = await session.scalar(
        select(User).where(
            User.organization_id == viewer.organization_id,
            User.email == data.author_email.strip().lower(),
            User.active.is_(True),
        )
    )
    if user is None:
        problems.add("authorEmail", "no active person with this email", ErrorCode.NOT_FOUND)
        return None
    return user.id, await viewer_for_user(session, user)


async def _target(
    session: AsyncSession,
    scope: Viewer,
    data: FeedbackInput,
    kind: FeedbackTarget,
    assigned: AssignedThreads | None,
) -> _Target | None:
    model: Any
    if kind is FeedbackTarget.ACTION:
        model, condition = AgentAction, AgentAction.id == data.action_id
    elif kind is FeedbackTarget.MESSAGE:
        model, condition = Message, Message.external_message_id == data.message_external_id
    else:
        model = Conversation
        condition = Conversation.external_thread_id == data.thread_external_id
    statement = scoped(select(model.id, model.agent_id), model, scope).where(condition)
    row = (await session.execute(statement)).first()
    if row is None and kind is FeedbackTarget.CONVERSATION and scope.user_id and assigned:
        # A thread given to the person for review, outside their own scope (a peer reviewer).
        statement = select(model.id, model.agent_id).where(
            model.organization_id == scope.organization_id,
            condition,
            model.id.in_(assigned(scope)),
        )
        row = (await session.execute(statement)).first()
    if row is None:
        return None
    action_type = None
    if kind is not FeedbackTarget.CONVERSATION:
        action_type = await session.scalar(select(judged_action_type(*_judged(kind, int(row.id)))))
    return _Target(kind, TARGET_FIELDS[kind][1], int(row.id), int(row.agent_id), action_type)


def _judged(kind: FeedbackTarget | str, target_id: int) -> tuple[int | None, int | None]:
    """(message id, action id) of a rated message or action."""
    if kind == FeedbackTarget.MESSAGE:
        return target_id, None
    return None, target_id


async def submit_feedback(
    session: AsyncSession,
    viewer: Viewer,
    data: FeedbackInput,
    *,
    now: dt.datetime | None = None,
    assigned: AssignedThreads | None = None,
) -> SubmittedFeedback:
    """Store a person's rating of a message, an action or a thread (within their scope), or
    update their earlier rating of it. A redelivery (same channel and `externalId`) changes
    nothing. Every problem of the input is reported at once."""
    problems = Problems()
    author = await _author(session, viewer, data, problems)
    kind = _target_kind(data, problems)
    rating = _check_rating(data, kind, problems)
    criteria = _check_criteria(data, kind, problems)
    comment = _check_text(data, problems)
    target = None
    if author is not None and kind is not None:
        target = await _target(session, author[1], data, kind, assigned)
        if target is None:
            problems.add(TARGET_FIELDS[kind][0], f"{kind.value} not found", ErrorCode.NOT_FOUND)
    problems.raise_if_any()
    assert author is not None and target is not None
    author_id = author[0]
    column = getattr(Feedback, target.column)
    channel = FeedbackChannel(data.channel).value
    if data.external_id is not None:
        delivered = await session.scalar(
            select(Feedback).where(
                Feedback.organization_id == viewer.organization_id,
                Feedback.channel == channel,
                Feedback.external_id == data.external_id,
            )
        )
        if delivered is not None:
            if delivered.author_id != author_id or getattr(delivered, target.column) != target.id:
                raise DomainError(
                    ErrorCode.CONFLICT,
                    "this externalId belongs to another rating",
                    field="externalId",
                )
            return SubmittedFeedback(delivered, created=False)
    now = now or utcnow()
    values = {
        "rating": rating,
        "comment": comment,
        "criteria": criteria,
        "channel": channel,
        "prompted": bool(data.prompted),
        "external_id": data.external_id,
        "updated_at": now,
    }
    statement = (
        dialect_insert(session, Feedback)
        .values(
            organization_id=viewer.organization_id,
            agent_id=target.agent_id,
            target_type=target.kind.value,
            author_id=author_id,
            created_at=now,
            **{target.column: target.id},
            **values,
        )
        .on_conflict_do_nothing(index_elements=["author_id", target.column])
        .returning(Feedback.id)
    )
    try:
        feedback_id = (await session.execute(statement)).scalar_one_or_none()
        created = feedback_id is not None
        if created:
            prompted = int(bool(data.prompted))
            change = Change(
                viewer.organization_id,
                target.agent_id,
                now,
                target.kind.value,
                1,
                rating,
                prompted,
                target.action_type,
                int(judged_wrong(target.kind, rating)),
            )
        else:  # the author rated it before: change that rating (locked until commit)
            feedback_id, change = await _rerate(
                session, author_id, column == target.id, values, target.action_type
            )
    except IntegrityError as exc:  # a concurrent rating took this externalId meanwhile
        error = constraint_error(exc)
        if error.field == "external_id":
            error.field = "externalId"
        raise error from exc
    await add_changes(session, [change])
    feedback = await session.scalar(
        select(Feedback).where(Feedback.id == feedback_id).execution_options(populate_existing=True)
    )
    if feedback is None:  # pragma: no cover - the row was just written in this transaction
        raise NotFoundError("feedback")
    raise_event(session, _given(feedback))
    return SubmittedFeedback(feedback, created=created)


async def _rerate(
    session: AsyncSession,
    author_id: int,
    target: Any,
    values: dict[str, Any],
    action_type: str | None,
) -> tuple[int, Change]:
    """Replace the author's earlier rating of ``target`` with ``values``, the row locked first so
    that concurrent changes count their differences one after the other; its id and the
    difference it makes to the rollup. Once a rating answered a prompt of ours it stays
    `prompted`, however it is changed."""
    earlier = (
        await session.execute(
            select(
                Feedback.id,
                Feedback.organization_id,
                Feedback.agent_id,
                Feedback.created_at,
                Feedback.target_type,
                Feedback.rating,
                Feedback.prompted,
            )
            .where(Feedback.author_id == author_id, target)
            .with_for_update()
        )
    ).one()
    prompted = bool(earlier.prompted or values["prompted"])
    await session.execute(
        update(Feedback)
        .where(Feedback.id == earlier.id)
        .values(**{**values, "prompted": prompted})
        .execution_options(synchronize_session=False)
    )
    change = Change(
        earlier.organization_id,
        earlier.agent_id,
        earlier.created_at,
        earlier.target_type,
        0,
        values["rating"] - earlier.rating,
        int(prompted) - int(bool(earlier.prompted)),
        action_type,
        int(judged_wrong(earlier.target_type, values["rating"]))
        - int(judged_wrong(earlier.target_type, earlier.rating)),
    )
    return earlier.id, change


def _given(feedback: Feedback) -> FeedbackGiven:
    return FeedbackGiven(
        organization_id=feedback.organization_id,
        feedback_id=feedback.id,
        author_id=feedback.author_id,
        target_type=feedback.target_type,
        action_id=feedback.action_id,
        message_id=feedback.message_id,
        conversation_id=feedback.conversation_id,
        channel=feedback.channel,
        at=feedback.updated_at,
    )


async def mark_prompted(session: AsyncSession, feedback_ids: Sequence[int]) -> None:
    """The ratings answered a prompt of ours: they stay `prompted`, however they change."""
    if feedback_ids:
        marked = await session.execute(
            update(Feedback)
            .where(Feedback.id.in_(sorted(set(feedback_ids))), Feedback.prompted.is_(False))
            .values(prompted=True)
            .returning(
                Feedback.organization_id,
                Feedback.agent_id,
                Feedback.created_at,
                Feedback.target_type,
            )
            .execution_options(synchronize_session=False)
        )
        await add_changes(session, [Change(*row, 0, 0, 1) for row in marked])


async def withdraw_feedback(
    session: AsyncSession,
    *,
    organization_id: int,
    author_id: int,
    target: Any,
    channel: FeedbackChannel,
    external_id_prefix: str,
    rating: int,
) -> int:
    """Delete the author's rating of ``target`` (a Feedback column compared with an id) if it is
    still the one a channel gave (same channel, external id prefix and rating: a rating changed
    since elsewhere stays); how many were deleted."""
    deleted = (
        await session.execute(
            delete(Feedback)
            .where(
                Feedback.organization_id == organization_id,
                Feedback.author_id == author_id,
                target,
                Feedback.channel == channel.value,
                Feedback.external_id.startswith(external_id_prefix, autoescape=True),
                Feedback.rating == rating,
            )
            .returning(
                Feedback.action_id,
                Feedback.message_id,
                Feedback.agent_id,
                Feedback.created_at,
                Feedback.target_type,
                Feedback.rating,
                Feedback.prompted,
            )
        )
    ).all()
    changes = []
    for r in deleted:
        judged = None
        if judged_wrong(r.target_type, r.rating):
            judged = await session.scalar(select(judged_action_type(r.message_id, r.action_id)))
        changes.append(
            Change(
                organization_id,
                r.agent_id,
                r.created_at,
                r.target_type,
                -1,
                -r.rating,
                -int(r.prompted),
                judged,
                -int(judged is not None),
            )
        )
    await add_changes(session, changes)
    for r in deleted:
        raise_event(
            session, FeedbackWithdrawn(organization_id, author_id, r.action_id, r.message_id)
        )
    return len(deleted)
