"""Threads as reviewers see them: which threads a viewer may read (their scope, plus the threads
assigned to them for review), each thread's facts (agent, messages, how its deal ended), its
messages and its reviews.

A review assignment lets its reviewer read and review that one thread, even a teammate's
(peer review); nothing else of the teammate's agent becomes visible. A reviewer outside the
thread's scope sees only their own review of it, so reviews stay independent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Select, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.agents.models import Agent
from backend.crm.models import Conversation, Deal, DealStage, Message
from backend.feedback.models import Feedback, FeedbackTarget
from backend.pagination import Page, paginate
from backend.reviews.models import ReviewAssignment
from backend.signals.models import Signal, SignalKind
from backend.viewer import Viewer, ViewerRole, scoped

CLOSED = (DealStage.CLOSED_WON.value, DealStage.CLOSED_LOST.value)


class DealStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True)
class ThreadFacts:
    conversation: Conversation
    agent: Agent
    message_count: int
    deal_status: DealStatus | None  # None: the thread belongs to no deal
    closed_at: dt.datetime | None  # when its deal was won or lost


def _ids(ids: Iterable[int]) -> list[int]:
    return sorted({int(i) for i in ids})


def assigned_threads(viewer: Viewer) -> Select:
    """The ids of the threads given to the viewer (a person) for review, whatever their scope."""
    return select(ReviewAssignment.conversation_id).where(
        ReviewAssignment.organization_id == viewer.organization_id,
        ReviewAssignment.reviewer_id == viewer.user_id,
    )


async def readable_conversations(
    session: AsyncSession, viewer: Viewer, ids: Iterable[int]
) -> dict[int, Conversation]:
    """The threads among ``ids`` the viewer may read: in their scope, or assigned to them."""
    wanted = _ids(ids)
    if not wanted:
        return {}
    statement = select(Conversation).where(Conversation.id.in_(wanted))
    found = {c.id: c for c in await session.scalars(scoped(statement, Conversation, viewer))}
    if viewer.user_id is not None and len(found) < len(wanted):
        statement = statement.where(
            Conversation.organization_id == viewer.organization_id,
            Conversation.id.in_(assigned_threads(viewer)),
            Conversation.id.not_in(sorted(found)),
        )
        found.update({c.id: c for c in await session.scalars(statement)})
    return found


async def closings(
    session: AsyncSession,
    organization_id: int,
    conversations: Select,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> dict[int, tuple[DealStatus, dt.datetime]]:
    """How the deal of each thread among ``conversations`` (a SELECT of conversation ids) ended,
    and when: its latest closing event (the deal's own closed stage, or a `deal.won`,
    `deal.lost` or `deal.stage_changed` to a closed stage), within [start, end) when given."""
    won = SignalKind.DEAL_WON.value
    to_stage = Signal.payload["to_stage"].as_string()
    by_stage = (
        select(
            Conversation.id.label("conversation_id"),
            (Deal.stage == DealStage.CLOSED_WON.value).label("won"),
            Deal.updated_at.label("at"),
        )
        .join(Deal, Deal.id == Conversation.deal_id)
        .where(Conversation.id.in_(conversations), Deal.stage.in_(CLOSED))
    )
    by_signal = (
        select(
            Conversation.id.label("conversation_id"),
            or_(Signal.kind == won, to_stage == DealStage.CLOSED_WON.value).label("won"),
            Signal.occurred_at.label("at"),
        )
        .join(Signal, Signal.deal_id == Conversation.deal_id)
        .where(
            Conversation.id.in_(conversations),
            Signal.organization_id == organization_id,
            or_(
                Signal.kind.in_([won, SignalKind.DEAL_LOST.value]),
                (Signal.kind == SignalKind.DEAL_STAGE_CHANGED.value) & to_stage.in_(CLOSED),
            ),
        )
    )
    if start is not None:
        by_stage = by_stage.where(Deal.updated_at >= start)
        by_signal = by_signal.where(Signal.occurred_at >= start)
    if end is not None:
        by_stage = by_stage.where(Deal.updated_at < end)
        by_signal = by_signal.where(Signal.occurred_at < end)
    events = union_all(by_stage, by_signal).subquery()
    latest: dict[int, tuple[DealStatus, dt.datetime]] = {}
    rows = await session.execute(select(events).order_by(events.c.at, events.c.won))
    for conversation_id, is_won, at in rows:
        latest[conversation_id] = (DealStatus.WON if is_won else DealStatus.LOST, at)
    return latest


async def thread_facts(
    session: AsyncSession, viewer: Viewer, ids: Iterable[int]
) -> dict[int, ThreadFacts]:
    """The facts of the threads among ``ids`` the viewer may read (see the module)."""
    conversations = await readable_conversations(session, viewer, ids)
    if not conversations:
        return {}
    wanted = sorted(conversations)
    agents = {
        a.id: a
        for a in await session.scalars(
            select(Agent).where(Agent.id.in_(sorted({c.agent_id for c in conversations.values()})))
        )
    }
    counts = {
        c: n
        for c, n in await session.execute(
            select(Message.conversation_id, func.count())
            .where(Message.conversation_id.in_(wanted))
            .group_by(Message.conversation_id)
        )
    }
    ended = await closings(
        session, viewer.organization_id, select(Conversation.id).where(Conversation.id.in_(wanted))
    )
    facts = {}
    for conversation_id, conversation in conversations.items():
        status, at = ended.get(conversation_id, (None, None))
        if status is None and conversation.deal_id is not None:
            status = DealStatus.OPEN
        facts[conversation_id] = ThreadFacts(
            conversation,
            agents[conversation.agent_id],
            int(counts.get(conversation_id, 0)),
            status,
            at,
        )
    return facts


@dataclass(frozen=True)
class ThreadMessage:
    message: Message
    action_id: int | None  # the agent's action that sent it (None: the contact's message)


MESSAGE_ORDER = (Message.sent_at, Message.id)  # oldest first; the id breaks ties


async def _first_messages(
    session: AsyncSession, viewer: Viewer, ids: Iterable[int], *, first: int
) -> tuple[dict[int, list[ThreadMessage]], dict[int, int]]:
    """The first ``first`` messages of each readable thread among ``ids``, oldest first, and
    how many messages each thread holds: one statement (numbered and counted per thread by
    window functions), one for the messages' actions."""
    conversations = await readable_conversations(session, viewer, ids)
    grouped: dict[int, list[ThreadMessage]] = {i: [] for i in _ids(ids)}
    totals: dict[int, int] = {}
    if not conversations:
        return grouped, totals
    numbered = (
        select(
            Message.id,
            func.row_number()
            .over(partition_by=Message.conversation_id, order_by=MESSAGE_ORDER)
            .label("position"),
            func.count().over(partition_by=Message.conversation_id).label("total"),
        )
        .where(
            Message.organization_id == viewer.organization_id,
            Message.conversation_id.in_(sorted(conversations)),
        )
        .subquery()
    )
    rows = list(
        await session.execute(
            select(Message, numbered.c.total)
            .join(numbered, numbered.c.id == Message.id)
            .where(numbered.c.position <= first)
            .order_by(Message.conversation_id, *MESSAGE_ORDER)
        )
    )
    messages = await _with_senders(session, viewer, [message for message, _ in rows])
    for item, (_, total) in zip(messages, rows, strict=True):
        grouped[item.message.conversation_id].append(item)
        totals[item.message.conversation_id] = int(total)
    return grouped, totals


async def _with_senders(
    session: AsyncSession, viewer: Viewer, messages: list[Message]
) -> list[ThreadMessage]:
    """Each message with the agent's action that sent it (its earliest, should several name
    the message): one statement."""
    if not messages:
        return []
    senders = {
        message_id: action_id
        for message_id, action_id in await session.execute(
            select(AgentAction.message_id, func.min(AgentAction.id))
            .where(
                AgentAction.organization_id == viewer.organization_id,
                AgentAction.message_id.in_([m.id for m in messages]),
            )
            .group_by(AgentAction.message_id)
        )
    }
    return [ThreadMessage(message, senders.get(message.id)) for message in messages]


async def thread_messages(
    session: AsyncSession, viewer: Viewer, ids: Iterable[int], *, first: int
) -> dict[int, list[ThreadMessage]]:
    """The first ``first`` messages of each thread among ``ids`` the viewer may read (scope or
    assignment, as its facts), oldest first, each with the agent's action that sent it (its
    earliest, should several name the message). One statement for the messages of all the
    threads (numbered per thread), one for their actions."""
    grouped, _ = await _first_messages(session, viewer, ids, first=first)
    return grouped


async def first_message_pages(
    session: AsyncSession, viewer: Viewer, ids: Iterable[int], *, size: int
) -> dict[int, Page[ThreadMessage]]:
    """The first page (``size`` messages, oldest first, with the thread's total) of each thread
    among ``ids`` the viewer may read, in the statements of `thread_messages`; a thread out of
    reach has an empty page."""
    grouped, totals = await _first_messages(session, viewer, ids, first=size + 1)
    return {
        thread: Page(
            items=items[:size],
            keys=[(i.message.sent_at, i.message.id) for i in items[:size]],
            has_next=len(items) > size,
            has_previous=False,
            total=totals.get(thread, 0),
        )
        for thread, items in grouped.items()
    }


async def thread_message_page(
    session: AsyncSession,
    viewer: Viewer,
    thread_id: int,
    *,
    first: int | None,
    after: str | None,
) -> Page[ThreadMessage]:
    """A page of one thread's messages, oldest first, after the cursor ``after`` (keyset on
    (sent_at, id)); empty for a thread the viewer may not read, as an unknown one."""
    readable = await readable_conversations(session, viewer, [thread_id])
    statement = select(Message).where(
        Message.organization_id == viewer.organization_id,
        Message.conversation_id.in_(sorted(readable)),  # none: an empty page
    )
    page: Page[Message] = await paginate(
        session, statement, order=MESSAGE_ORDER, first=first, after=after, ascending=True
    )
    return Page(
        items=await _with_senders(session, viewer, page.items),
        keys=page.keys,
        has_next=page.has_next,
        has_previous=page.has_previous,
        total=page.total,
    )


async def thread_reviews(
    session: AsyncSession, viewer: Viewer, ids: Iterable[int]
) -> dict[int, list[Feedback]]:
    """The reviews (conversation feedback) of each thread the viewer may see, oldest first:
    all of them within their scope, their own anywhere; none for the agent's own key."""
    wanted = _ids(ids)
    grouped: dict[int, list[Feedback]] = {i: [] for i in wanted}
    # Ratings of the agent are for the people who coach it (API keys: `read:feedback`).
    if not wanted or viewer.role is ViewerRole.AGENT or not viewer.has_scope("read:feedback"):
        return grouped
    base = select(Feedback).where(
        Feedback.target_type == FeedbackTarget.CONVERSATION.value,
        Feedback.conversation_id.in_(wanted),
    )
    found = {f.id: f for f in await session.scalars(scoped(base, Feedback, viewer))}
    if viewer.user_id is not None:
        own = base.where(
            Feedback.organization_id == viewer.organization_id, Feedback.author_id == viewer.user_id
        )
        found.update({f.id: f for f in await session.scalars(own)})
    for review in sorted(found.values(), key=lambda f: (f.created_at, f.id)):
        grouped[int(review.conversation_id or 0)].append(review)
    return grouped
