"""GraphQL: `submitThreadReview`, `assignThreadReviews`, `skipThreadReview`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.feedback.models import COMMENT_MAX_LENGTH
from backend.feedback.models import FeedbackChannel as Channel
from backend.learning import submit_thread_review
from backend.reviews import assignment, service
from backend.reviews.assignment import DEFAULT_MIN_MESSAGES, MAX_THREADS, AssignReviewsInput
from backend.reviews.models import ReviewAssignment
from backend.reviews.selection import PRIORITY
from backend.reviews.service import SubmittedReview, ThreadReviewInput
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from graphql_schema.errors import UserError
from graphql_schema.feedback.types import FeedbackChannel, FeedbackType
from graphql_schema.inputs import attempt, decode_id, with_error_paths
from graphql_schema.reviews.loaders import threads_by_id
from graphql_schema.reviews.queries import optional_id
from graphql_schema.reviews.types import ReviewAssignmentType, ReviewReason, ThreadType

CRITERION = "Optional rating of this criterion: 1 (worst) .. 5 (best)."


@strawberry.input(
    description=with_error_paths(
        "A review of a whole thread: an overall rating, optional ratings of tone, accuracy, timing "
        "and choice of next step, and a comment. Reviewing the thread again updates your review.",
        "nextStep",
    )
)
class SubmitThreadReviewInput:
    thread_id: strawberry.ID = strawberry.field(description="The thread reviewed (Thread id).")
    rating: int = strawberry.field(description="Overall: 1 (worst) .. 5 (best).")
    tone: int | None = strawberry.field(default=None, description=CRITERION)
    accuracy: int | None = strawberry.field(default=None, description=CRITERION)
    timing: int | None = strawberry.field(default=None, description=CRITERION)
    next_step: int | None = strawberry.field(
        default=None, description="Optional rating of the choice of next step: 1 .. 5."
    )
    comment: str | None = strawberry.field(
        default=None, description=f"Optional free text, at most {COMMENT_MAX_LENGTH} characters."
    )
    channel: FeedbackChannel = strawberry.field(
        default=Channel.DASHBOARD, description="DASHBOARD (default) or API."
    )

    def to_input(self) -> ThreadReviewInput:
        return ThreadReviewInput(
            conversation_id=decode_id(self.thread_id, "Thread", "threadId"),
            rating=self.rating,
            tone=self.tone,
            accuracy=self.accuracy,
            timing=self.timing,
            next_step=self.next_step,
            comment=self.comment,
            channel=Channel(self.channel).value,
        )


@strawberry.type(description="The review as stored, or what to fix.")
class SubmitThreadReviewPayload:
    review: FeedbackType | None = strawberry.field(
        default=None, description="Your review (conversation feedback with its criteria)."
    )
    assignment: ReviewAssignmentType | None = strawberry.field(
        default=None, description="Your assignment of the thread, now done."
    )
    created: bool | None = strawberry.field(
        default=None, description="False when it updated your earlier review of the thread."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when it was stored."
    )


@strawberry.input(
    description=with_error_paths(
        "Which threads to give to reviewers: the named threads, or those worth reviewing in the "
        "range (disagreements, lost and won deals, long threads, in that order).",
        "threadIds[0]",
    )
)
class AssignThreadReviewsInput:
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this team's threads (default: all the teams you see)."
    )
    from_: dt.date | None = strawberry.field(
        default=None,
        name="from",
        description="First day (UTC), inclusive; default: 29 days before `to`.",
    )
    to: dt.date | None = strawberry.field(
        default=None, description="Last day (UTC), inclusive; default: today."
    )
    reasons: list[ReviewReason] | None = strawberry.field(
        default=None, description="Which threads are worth it (default: all but MANUAL)."
    )
    thread_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description=f"These threads (reason MANUAL) instead of a search; at most {MAX_THREADS}.",
    )
    reviewer_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Give every thread to this person (a User id) instead of round-robin.",
    )
    reviewers_per_thread: int = strawberry.field(
        default=1, description="Reviewers each thread should end up with, 1..5."
    )
    limit: int = strawberry.field(
        default=20, description=f"Threads to give out at most, 1..{MAX_THREADS}."
    )
    min_messages: int = strawberry.field(
        default=DEFAULT_MIN_MESSAGES, description="Messages that make a thread long, 2..1000."
    )

    def to_input(self) -> AssignReviewsInput:
        reasons = self.reasons if self.reasons is not None else PRIORITY
        return AssignReviewsInput(
            team_id=optional_id(self.team_id, "Team", "teamId"),
            since=self.from_,
            until=self.to,
            reasons=tuple(str(r.value) for r in reasons),
            conversation_ids=[
                decode_id(value, "Thread", f"threadIds[{i}]")
                for i, value in enumerate(self.thread_ids or ())
            ],
            reviewer_id=optional_id(self.reviewer_id, "User", "reviewerId"),
            reviewers_per_thread=self.reviewers_per_thread,
            limit=self.limit,
            min_messages=self.min_messages,
        )


@strawberry.type(description="The assignments made, or what to fix.")
class AssignThreadReviewsPayload:
    assignments: list[ReviewAssignmentType] = strawberry.field(
        default_factory=list, description="New assignments (earlier ones stay as they were)."
    )
    unassigned: list[ThreadType] = strawberry.field(
        default_factory=list,
        description="Threads worth reviewing that no eligible reviewer was left for.",
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when it ran."
    )


@strawberry.input(description="Set aside a thread assigned to you; it is not given to you again.")
class SkipThreadReviewInput:
    thread_id: strawberry.ID = strawberry.field(description="The thread (Thread id).")


@strawberry.type(description="The assignment set aside, or what to fix.")
class SkipThreadReviewPayload:
    assignment: ReviewAssignmentType | None = strawberry.field(
        default=None, description="Your assignment, now skipped."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when it was skipped."
    )


async def _review(info: Info, viewer: Viewer, data: SubmitThreadReviewInput) -> SubmittedReview:
    given = data.to_input()
    return await submit_thread_review(info.context.state, viewer, given, now=info.context.now())


async def _assign(
    info: Info, viewer: Viewer, data: AssignThreadReviewsInput
) -> assignment.AssignedReviews:
    given = data.to_input()
    async with transaction(info.context.state.sessions) as session:
        return await assignment.assign_thread_reviews(
            session, viewer, given, now=info.context.now()
        )


async def _skip(info: Info, viewer: Viewer, data: SkipThreadReviewInput) -> ReviewAssignment:
    thread = decode_id(data.thread_id, "Thread", "threadId")
    async with transaction(info.context.state.sessions) as session:
        return await service.skip_thread_review(session, viewer, thread, now=info.context.now())


@strawberry.type
class ReviewsMutation:
    @strawberry.mutation(
        description="Review a whole thread you see or were assigned: overall 1..5, optional "
        "criteria, a comment. Stored as your conversation feedback; closes your assignment."
    )
    async def submit_thread_review(
        self,
        info: Info,
        input: Annotated[SubmitThreadReviewInput, strawberry.argument(description="The review.")],
    ) -> SubmitThreadReviewPayload:
        done, errors = await attempt(info, input, lambda viewer: _review(info, viewer, input))
        if done is None:
            return SubmitThreadReviewPayload(errors=errors)
        return SubmitThreadReviewPayload(
            review=FeedbackType.of(done.feedback),
            assignment=ReviewAssignmentType.of(done.assignment),
            created=done.created,
        )

    @strawberry.mutation(
        description="Give threads to reviewers, round-robin over each thread's team (its "
        "managers and reps, never the agent's owner) or to one person; never the same thread "
        "twice to one reviewer. Managers (their teams), executives and admins."
    )
    async def assign_thread_reviews(
        self,
        info: Info,
        input: Annotated[
            AssignThreadReviewsInput, strawberry.argument(description="Which threads, and to whom.")
        ],
    ) -> AssignThreadReviewsPayload:
        done, errors = await attempt(info, input, lambda viewer: _assign(info, viewer, input))
        if done is None:
            return AssignThreadReviewsPayload(errors=errors)
        facts = await info.context.loaders.get(threads_by_id).load_many(done.unassigned)
        return AssignThreadReviewsPayload(
            assignments=[ReviewAssignmentType.of(row) for row in done.assignments],
            unassigned=[ThreadType.of(f) for f in facts if f is not None],
        )

    @strawberry.mutation(description="Set aside a thread assigned to you.")
    async def skip_thread_review(
        self,
        info: Info,
        input: Annotated[SkipThreadReviewInput, strawberry.argument(description="The thread.")],
    ) -> SkipThreadReviewPayload:
        done, errors = await attempt(info, input, lambda viewer: _skip(info, viewer, input))
        if done is None:
            return SkipThreadReviewPayload(errors=errors)
        return SkipThreadReviewPayload(assignment=ReviewAssignmentType.of(done))
