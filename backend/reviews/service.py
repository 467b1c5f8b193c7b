"""Use cases of thread reviews: a person reviews a whole thread (overall 1..5; optionally tone,
accuracy, timing and choice of next step, 1..5 each; a comment), skips a thread given to them,
and reads a review queue and each reviewer's progress.

A review is stored as the reviewer's conversation feedback (``backend.feedback.service``:
reviewing again updates it) and closes the reviewer's assignment of the thread, or records one
(reason "manual") when they reviewed without being asked, so progress and the queue's "never
twice" rule see every review. Who may review: anyone who sees the thread, and whoever it was
assigned to (see ``threads``). Reviews, queues and progress are for people, not API keys.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.crm.models import Conversation
from backend.database import dialect_insert, utcnow
from backend.errors import DomainError, ErrorCode, NotFoundError, PermissionDeniedError, Problems
from backend.feedback.events import FeedbackGiven
from backend.feedback.models import COMMENT_MAX_LENGTH, CriterionRating, Feedback, FeedbackChannel
from backend.pagination import Page, paginate
from backend.reviews.models import ReviewAssignment, ReviewReason, ReviewStatus
from backend.reviews.threads import readable_conversations
from backend.scope import team_in_scope
from backend.viewer import Viewer, ViewerRole, scoped

# Criterion as stored in the feedback's `criteria`, and its input field.
CRITERIA = {"tone": "tone", "accuracy": "accuracy", "timing": "timing", "next_step": "nextStep"}
REVIEW_CHANNELS = (FeedbackChannel.DASHBOARD.value, FeedbackChannel.API.value)
REVIEWERS = (ViewerRole.REP, ViewerRole.MANAGER, ViewerRole.EXECUTIVE, ViewerRole.ADMIN)
QUEUE_ORDER = (ReviewAssignment.created_at, ReviewAssignment.id)


@dataclass(frozen=True)
class ThreadReviewInput:
    conversation_id: int
    rating: int | None  # overall, 1..5 (required)
    tone: int | None = None
    accuracy: int | None = None
    timing: int | None = None
    next_step: int | None = None
    comment: str | None = None
    channel: str = FeedbackChannel.DASHBOARD.value


@dataclass(frozen=True)
class SubmittedReview:
    feedback: Feedback
    assignment: ReviewAssignment
    created: bool  # False when it updated the reviewer's earlier review of the thread


@dataclass(frozen=True)
class ReviewerProgress:
    reviewer_id: int
    assigned: int  # still open
    done: int
    skipped: int

    @property
    def total(self) -> int:
        return self.assigned + self.done + self.skipped


def _require_person(viewer: Viewer) -> int:
    if viewer.user_id is None or viewer.role not in REVIEWERS:
        raise PermissionDeniedError("thread reviews are for people, not API keys")
    return viewer.user_id


def _check(data: ThreadReviewInput, problems: Problems) -> list[CriterionRating]:
    if data.rating is None:
        problems.add("rating", "rate the thread overall from 1 to 5", ErrorCode.REQUIRED)
    else:
        problems.require(1 <= data.rating <= 5, "rating", f"must be 1..5, got {data.rating}")
    criteria = []
    for name, field in CRITERIA.items():
        value = getattr(data, name)
        if value is not None and problems.require(
            1 <= value <= 5, field, f"must be 1..5, got {value}"
        ):
            criteria.append(CriterionRating(name, value))
    comment = (data.comment or "").strip()
    problems.require(
        len(comment) <= COMMENT_MAX_LENGTH,
        "comment",
        f"must be at most {COMMENT_MAX_LENGTH} characters, got {len(comment)}",
    )
    problems.require(
        data.channel in REVIEW_CHANNELS,
        "channel",
        "thread reviews come from: " + ", ".join(REVIEW_CHANNELS),
    )
    return criteria


@dataclass(frozen=True)
class ReviewTarget:
    """A checked review: the thread, the scope to rate it in and the criteria's ratings."""

    conversation: Conversation
    external_thread_id: str
    scope: Viewer  # the viewer, widened to the thread's agent when it was assigned to them
    criteria: list[CriterionRating]


async def review_target(
    session: AsyncSession, viewer: Viewer, data: ThreadReviewInput
) -> ReviewTarget:
    """Check a review of a thread the viewer sees or was assigned; every problem of the input is
    reported at once."""
    _require_person(viewer)
    problems = Problems()
    criteria = _check(data, problems)
    conversation = (await readable_conversations(session, viewer, [data.conversation_id])).get(
        data.conversation_id
    )
    if conversation is None:
        problems.add("threadId", "thread not found", ErrorCode.NOT_FOUND)
    elif conversation.external_thread_id is None:
        problems.add("threadId", "this thread has no provider thread id; it cannot be reviewed")
    problems.raise_if_any()
    assert conversation is not None and conversation.external_thread_id is not None
    scope = viewer
    if not viewer.can_see_agent(conversation.agent_id):  # an assigned teammate's thread
        scope = dataclasses.replace(
            viewer, agent_ids=frozenset({conversation.agent_id}), team_ids=frozenset()
        )
    return ReviewTarget(conversation, conversation.external_thread_id, scope, criteria)


async def record_review(
    session: AsyncSession, viewer: Viewer, target: ReviewTarget, *, now: dt.datetime
) -> ReviewAssignment:
    """Mark the viewer's assignment of the reviewed thread done, or record one (reason
    "manual") when they reviewed without being asked."""
    user_id = _require_person(viewer)
    done = {"status": ReviewStatus.DONE.value, "completed_at": now}
    statement = (
        dialect_insert(session, ReviewAssignment)
        .values(
            organization_id=viewer.organization_id,
            agent_id=target.conversation.agent_id,
            conversation_id=target.conversation.id,
            reviewer_id=user_id,
            assigned_by_id=user_id,
            reason=ReviewReason.MANUAL.value,
            created_at=now,
            **done,
        )
        .on_conflict_do_update(index_elements=["conversation_id", "reviewer_id"], set_=done)
        .returning(ReviewAssignment.id)
    )
    assignment_id = (await session.execute(statement)).scalar_one()
    assignment = await session.scalar(
        select(ReviewAssignment)
        .where(ReviewAssignment.id == assignment_id)
        .execution_options(populate_existing=True)
    )
    assert assignment is not None
    return assignment


async def settle_assignments(session: AsyncSession, given: FeedbackGiven) -> None:
    """A rating of a thread, from any channel, completes its author's open assignment of it."""
    if given.conversation_id is None:
        return
    await session.execute(
        update(ReviewAssignment)
        .where(
            ReviewAssignment.organization_id == given.organization_id,
            ReviewAssignment.conversation_id == given.conversation_id,
            ReviewAssignment.reviewer_id == given.author_id,
            ReviewAssignment.status == ReviewStatus.ASSIGNED.value,
        )
        .values(status=ReviewStatus.DONE.value, completed_at=given.at)
    )


async def skip_thread_review(
    session: AsyncSession,
    viewer: Viewer,
    conversation_id: int,
    *,
    now: dt.datetime | None = None,
) -> ReviewAssignment:
    """Set aside the viewer's open assignment of a thread; it is not given to them again."""
    user_id = _require_person(viewer)
    statement = (
        update(ReviewAssignment)
        .where(
            ReviewAssignment.organization_id == viewer.organization_id,
            ReviewAssignment.conversation_id == conversation_id,
            ReviewAssignment.reviewer_id == user_id,
            ReviewAssignment.status == ReviewStatus.ASSIGNED.value,
        )
        .values(status=ReviewStatus.SKIPPED.value, completed_at=now or utcnow())
        .returning(ReviewAssignment.id)
    )
    skipped = (await session.execute(statement)).scalar_one_or_none()
    if skipped is None:
        raise NotFoundError("open review assignment of yours on this thread", field="threadId")
    assignment = await session.scalar(
        select(ReviewAssignment)
        .where(ReviewAssignment.id == skipped)
        .execution_options(populate_existing=True)
    )
    assert assignment is not None
    return assignment


def _visible(viewer: Viewer, statement: Select) -> Select:
    """Assignments a person sees: a rep their own; managers those of their teams' threads and
    their own; executives and admins all of the organisation."""
    user_id = _require_person(viewer)
    statement = statement.where(ReviewAssignment.organization_id == viewer.organization_id)
    if viewer.role is ViewerRole.REP:
        return statement.where(ReviewAssignment.reviewer_id == user_id)
    if viewer.sees_whole_organization:
        return statement
    in_scope = scoped(select(ReviewAssignment.id), ReviewAssignment, viewer)
    return statement.where(
        or_(ReviewAssignment.id.in_(in_scope), ReviewAssignment.reviewer_id == user_id)
    )


async def review_queue(
    session: AsyncSession,
    viewer: Viewer,
    *,
    reviewer_id: int | None = None,
    status: str = ReviewStatus.ASSIGNED.value,
    first: int | None = None,
    after: str | None = None,
) -> Page[ReviewAssignment]:
    """The assignments the viewer sees in ``status`` (open ones by default), of one reviewer
    when given, oldest first (a work queue). A thread appears at most once per reviewer."""
    if status not in ReviewStatus.__members__.values():
        raise DomainError(
            ErrorCode.INVALID, "must be one of: " + ", ".join(ReviewStatus), field="status"
        )
    statement = _visible(viewer, select(ReviewAssignment)).where(ReviewAssignment.status == status)
    if reviewer_id is not None:
        statement = statement.where(ReviewAssignment.reviewer_id == reviewer_id)
    return await paginate(
        session, statement, order=QUEUE_ORDER, first=first, after=after, ascending=True
    )


async def review_progress(
    session: AsyncSession, viewer: Viewer, *, team_id: int | None = None
) -> list[ReviewerProgress]:
    """Per reviewer, over the assignments the viewer sees (of one team's threads when given):
    open, done and skipped, by reviewer id."""
    statement = _visible(
        viewer,
        select(ReviewAssignment.reviewer_id, ReviewAssignment.status, func.count().label("n")),
    )
    if team_id is not None:
        team = await team_in_scope(session, viewer, team_id)
        if team is None:
            raise NotFoundError("team", field="teamId")
        statement = statement.where(
            ReviewAssignment.agent_id.in_(
                select(Agent.id).where(
                    Agent.organization_id == viewer.organization_id, Agent.team_id == team.id
                )
            )
        )
    rows = await session.execute(
        statement.group_by(ReviewAssignment.reviewer_id, ReviewAssignment.status)
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for reviewer, status, n in rows:
        counts[int(reviewer)][status] = int(n)
    return [
        ReviewerProgress(reviewer, c.get("assigned", 0), c.get("done", 0), c.get("skipped", 0))
        for reviewer, c in sorted(counts.items())
    ]
