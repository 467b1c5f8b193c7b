"""GraphQL types of thread reviews: Thread (a conversation), review assignments, progress per
reviewer and agreement between reviewers. Undefined numbers (NaN) are null."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Annotated, Any, TypeAlias

import strawberry
from strawberry import relay
from strawberry.types import Info

from analytics_engine.agreement import RatingAgreement
from backend.actions.models import AgentAction
from backend.agents.models import Agent
from backend.crm.models import MessageDirection
from backend.orgs.models import User
from backend.pagination import MAX_PAGE, check_first
from backend.reviews import agreement as review_agreement
from backend.reviews import models
from backend.reviews.service import ReviewerProgress
from backend.reviews.threads import DealStatus, ThreadFacts
from backend.reviews.threads import ThreadMessage as MessageRow
from graphql_schema.actions.types import ActionType
from graphql_schema.agents.types import AgentType
from graphql_schema.feedback.types import FeedbackType
from graphql_schema.filters import After
from graphql_schema.loaders import by_id
from graphql_schema.orgs.types import UserType
from graphql_schema.relay import Connection
from graphql_schema.reviews.loaders import (
    message_pages,
    messages_by_thread,
    reviews_by_thread,
    threads_by_id,
)

# Each GraphQL enum is the domain's enum registered with Strawberry; the alias names it
# in annotations (a call's result is no type to mypy).
strawberry.enum(
    models.ReviewReason, name="ReviewReason", description="Why a thread was picked for review."
)
ReviewReason: TypeAlias = models.ReviewReason
strawberry.enum(
    models.ReviewStatus, name="ReviewStatus", description="Where a review assignment stands."
)
ReviewStatus: TypeAlias = models.ReviewStatus
strawberry.enum(
    DealStatus, name="DealStatus", description="How a thread's deal stands: open, won or lost."
)
DealStatusEnum: TypeAlias = DealStatus
strawberry.enum(
    MessageDirection,
    name="MessageDirection",
    description="Who wrote a message: the agent (outbound) or the contact (inbound).",
)
MessageDirectionEnum: TypeAlias = MessageDirection
THREAD_MESSAGES = 50  # the thread view's default: most threads whole, a long one's start


@strawberry.type(
    name="ThreadMessage",
    description="One message of a thread, with the agent's action that sent it: its "
    "confidence and outcomes, what a reviewer judges beside the words.",
)
class ThreadMessageType:
    direction: MessageDirectionEnum = strawberry.field(
        description="OUTBOUND: the agent's; INBOUND: the contact's."
    )
    subject: str | None = strawberry.field(description="Its subject.")
    body_preview: str | None = strawberry.field(description="The start of its text.")
    sent_at: dt.datetime = strawberry.field(description="When it was sent.")
    external_message_id: str | None = strawberry.field(
        description="The provider's message id (e.g. RFC 5322 Message-ID)."
    )
    action_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The agent's action that sent it, with its `confidence`, "
        "`calibratedConfidence`, `decision` and `outcomes`; null for the contact's messages, "
        "and for a reviewer outside the agent's scope (a peer reviewer sees the messages, not "
        "the agent's numbers)."
    )
    async def action(self, info: Info) -> ActionType | None:
        if self.action_id is None:
            return None
        row = await info.context.loaders.get(by_id(AgentAction)).load(self.action_id)
        return ActionType.of(row) if row is not None else None

    @classmethod
    def of(cls, item: MessageRow) -> ThreadMessageType:
        message = item.message
        return cls(
            direction=MessageDirection(message.direction),
            subject=message.subject,
            body_preview=message.body_preview,
            sent_at=message.sent_at,
            external_message_id=message.external_message_id,
            action_id=item.action_id,
        )


def number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@strawberry.type(
    description="How far the reviews of one thread agree, over every pair of its "
    "overall ratings (1..5)."
)
class ThreadAgreement:
    pairs: int = strawberry.field(description="Pairs of reviews of the thread.")
    mean_absolute_difference: float | None = strawberry.field(
        description="Mean absolute difference of the paired ratings, in scale points."
    )
    exact_agreement: float | None = strawberry.field(
        description="Share of the pairs with equal ratings."
    )

    @classmethod
    def of(cls, value: RatingAgreement) -> ThreadAgreement:
        return cls(
            pairs=value.pairs,
            mean_absolute_difference=number(value.mean_absolute_difference),
            exact_agreement=number(value.exact_agreement),
        )


@strawberry.type(
    name="Thread",
    description="A conversation of the agent with a contact (an "
    "e-mail thread): what retrospective reviews judge.",
)
class ThreadType(relay.Node):
    id: relay.NodeID[int]
    subject: str | None = strawberry.field(description="Subject of the thread.")
    external_thread_id: str | None = strawberry.field(description="The provider's thread id.")
    channel: str = strawberry.field(description="Where it happens, e.g. `email`.")
    created_at: dt.datetime = strawberry.field(description="When it started.")
    message_count: int = strawberry.field(description="Messages in the thread.")
    deal_status: DealStatusEnum | None = strawberry.field(
        description="Its deal: open, won or lost; null when it belongs to no deal."
    )
    deal_closed_at: dt.datetime | None = strawberry.field(
        description="When its deal was won or lost."
    )
    agent_row: strawberry.Private[Agent]

    @strawberry.field(description="The agent of the thread.")
    def agent(self) -> AgentType:
        return AgentType.of(self.agent_row)

    @strawberry.field(
        description="Its reviews, oldest first: all of them for those who see the thread's "
        "agent, your own only when it was assigned to you (reviews stay independent)."
    )
    async def reviews(self, info: Info) -> list[FeedbackType]:
        rows = await info.context.loaders.get(reviews_by_thread).load(self.id)
        return [FeedbackType.of(row) for row in rows]

    @strawberry.field(
        description="Its messages, oldest first, each with the agent's action that sent it "
        f"(confidence, outcomes): the thread view. The first `first` (1..{MAX_PAGE}, default "
        f"{THREAD_MESSAGES}); `messageCount` says how many there are, and "
        "`messagesConnection` pages through them all."
    )
    async def messages(
        self,
        info: Info,
        first: Annotated[
            int | None,
            strawberry.argument(
                description=f"How many, from the oldest: 1..{MAX_PAGE} (default {THREAD_MESSAGES})."
            ),
        ] = THREAD_MESSAGES,
    ) -> list[ThreadMessageType]:
        size = check_first(first)
        rows = await info.context.loaders.get(messages_by_thread).load((self.id, size))
        return [ThreadMessageType.of(row) for row in rows]

    @strawberry.field(
        description="Its messages a page at a time, oldest first (by `sentAt`), each with the "
        "agent's action that sent it as in `messages`: the first `first` "
        f"(1..{MAX_PAGE}, default {THREAD_MESSAGES}) after the cursor `after` (a "
        "`pageInfo.endCursor` of this thread's messages); `totalCount` is `messageCount`. "
        "The way to read a long thread whole."
    )
    async def messages_connection(
        self,
        info: Info,
        first: Annotated[
            int | None,
            strawberry.argument(
                description=f"Page size, 1..{MAX_PAGE} (default {THREAD_MESSAGES})."
            ),
        ] = THREAD_MESSAGES,
        after: After = None,
    ) -> Connection[ThreadMessageType]:
        key = (self.id, check_first(first), after)
        page = await info.context.loaders.get(message_pages).load(key)
        return Connection.of(page, ThreadMessageType.of, info)

    @strawberry.field(description="Agreement of the reviews you see; null below two reviews.")
    async def agreement(self, info: Info) -> ThreadAgreement | None:
        rows = await info.context.loaders.get(reviews_by_thread).load(self.id)
        if len(rows) < 2:
            return None
        return ThreadAgreement.of(review_agreement.thread_agreement([r.rating for r in rows]))

    @classmethod
    def of(cls, facts: ThreadFacts) -> ThreadType:
        thread = facts.conversation
        return cls(
            id=thread.id,
            subject=thread.subject,
            external_thread_id=thread.external_thread_id,
            channel=thread.channel,
            created_at=thread.created_at,
            message_count=facts.message_count,
            deal_status=facts.deal_status,
            deal_closed_at=facts.closed_at,
            agent_row=facts.agent,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        ids = [int(i) if i.isdigit() else -1 for i in node_ids]
        found = await info.context.loaders.get(threads_by_id).load_many(ids)
        nodes = [cls.of(f) if f is not None else None for f in found]
        if required and any(n is None for n in nodes):
            from backend.errors import NotFoundError

            raise NotFoundError("node")
        return nodes


async def _user(info: Info, user_id: int | None) -> UserType | None:
    if user_id is None:
        return None
    row = await info.context.loaders.get(by_id(User)).load(user_id)
    return UserType.of(row) if row is not None else None


@strawberry.type(name="ReviewAssignment", description="A thread given to a person to review.")
class ReviewAssignmentType:
    reason: ReviewReason = strawberry.field(description="Why it was picked.")
    status: ReviewStatus = strawberry.field(description="Assigned, done or skipped.")
    created_at: dt.datetime = strawberry.field(description="When it was assigned.")
    completed_at: dt.datetime | None = strawberry.field(
        description="When it was reviewed or skipped."
    )
    conversation_id: strawberry.Private[int]
    reviewer_id: strawberry.Private[int]
    assigned_by_id: strawberry.Private[int | None]

    @strawberry.field(description="The thread to review.")
    async def thread(self, info: Info) -> ThreadType | None:
        facts = await info.context.loaders.get(threads_by_id).load(self.conversation_id)
        return ThreadType.of(facts) if facts is not None else None

    @strawberry.field(description="Who reviews it.")
    async def reviewer(self, info: Info) -> UserType | None:
        return await _user(info, self.reviewer_id)

    @strawberry.field(description="Who assigned it (the reviewer, for unasked reviews).")
    async def assigned_by(self, info: Info) -> UserType | None:
        return await _user(info, self.assigned_by_id)

    @classmethod
    def of(cls, row: models.ReviewAssignment) -> ReviewAssignmentType:
        return cls(
            reason=models.ReviewReason(row.reason),
            status=models.ReviewStatus(row.status),
            created_at=row.created_at,
            completed_at=row.completed_at,
            conversation_id=row.conversation_id,
            reviewer_id=row.reviewer_id,
            assigned_by_id=row.assigned_by_id,
        )


@strawberry.type(
    name="ReviewerProgress", description="One reviewer's assignments: open, done and skipped."
)
class ReviewerProgressType:
    assigned: int = strawberry.field(description="Still to review.")
    done: int = strawberry.field(description="Reviewed.")
    skipped: int = strawberry.field(description="Set aside.")
    total: int = strawberry.field(description="All of them.")
    reviewer_id: strawberry.Private[int]

    @strawberry.field(description="The reviewer.")
    async def reviewer(self, info: Info) -> UserType | None:
        return await _user(info, self.reviewer_id)

    @classmethod
    def of(cls, value: ReviewerProgress) -> ReviewerProgressType:
        return cls(
            assigned=value.assigned,
            done=value.done,
            skipped=value.skipped,
            total=value.total,
            reviewer_id=value.reviewer_id,
        )


@strawberry.type(description="Two reviewers over the threads both reviewed.")
class ReviewerPairAgreement:
    threads: int = strawberry.field(description="Threads both reviewed.")
    mean_absolute_difference: float | None = strawberry.field(
        description="Mean absolute difference of their overall ratings, in scale points."
    )
    exact_agreement: float | None = strawberry.field(
        description="Share of those threads they rated alike."
    )
    kappa: float | None = strawberry.field(
        description="Cohen's (1968) quadratically weighted kappa of the two (1 = perfect, 0 = "
        "chance); null below two shared threads or when undefined."
    )
    reviewer_ids: strawberry.Private[tuple[int, int]]

    @strawberry.field(description="The two reviewers (lower user id first).")
    async def reviewers(self, info: Info) -> list[UserType]:
        rows = await info.context.loaders.get(by_id(User)).load_many(list(self.reviewer_ids))
        return [UserType.of(row) for row in rows if row is not None]


@strawberry.type(
    name="ReviewAgreement",
    description="Agreement between the reviews given in a range to the threads you see. "
    "Undefined figures are null.",
)
class ReviewAgreementType:
    from_: dt.date = strawberry.field(name="from", description="First day (UTC), inclusive.")
    to: dt.date = strawberry.field(description="Last day (UTC), inclusive.")
    reviews: int = strawberry.field(description="Thread reviews given in the range.")
    threads: int = strawberry.field(description="Threads they reviewed.")
    threads_with_several_reviews: int = strawberry.field(
        description="Threads with two reviews or more."
    )
    pairs: int = strawberry.field(description="Pairs of reviews of the same thread.")
    mean_absolute_difference: float | None = strawberry.field(
        description="Over those pairs: mean absolute difference of the overall ratings."
    )
    exact_agreement: float | None = strawberry.field(
        description="Over those pairs: share with equal ratings."
    )
    kappa: float | None = strawberry.field(
        description="Cohen's (1968) quadratically weighted kappa of each thread's first two "
        "reviews (earlier as rater A, later as rater B) over the threads with two or more; "
        "null below two such threads or when undefined."
    )
    reviewer_pairs: list[ReviewerPairAgreement] = strawberry.field(
        description="Each two reviewers who reviewed the same threads, most shared first "
        "(at most 50)."
    )

    @classmethod
    def of(cls, value: review_agreement.ReviewAgreement) -> ReviewAgreementType:
        pooled = value.pooled
        return cls(
            from_=value.range.since,
            to=value.range.until,
            reviews=value.reviews,
            threads=value.threads,
            threads_with_several_reviews=pooled.items,
            pairs=pooled.pairs,
            mean_absolute_difference=number(pooled.mean_absolute_difference),
            exact_agreement=number(pooled.exact_agreement),
            kappa=number(value.first_two.kappa),
            reviewer_pairs=[
                ReviewerPairAgreement(
                    threads=p.threads,
                    mean_absolute_difference=number(p.mean_absolute_difference),
                    exact_agreement=number(p.exact_agreement),
                    kappa=number(p.kappa),
                    reviewer_ids=(p.reviewer_a, p.reviewer_b),
                )
                for p in value.pairs
            ],
        )
