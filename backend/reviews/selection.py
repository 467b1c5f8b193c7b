"""Picking the threads worth a retrospective review, most telling first:

1. **disagreement**: a person's rating given in the range disagrees with the outcome or the
   agent's confidence on one of the thread's actions (`judgements.disagrees`); most such
   actions first;
2. **lost**, then 3. **won**: the thread's deal was lost or won in the range; latest first;
4. **long_thread**: at least `min_messages` messages, one of them in the range; longest first.

A thread matching several reasons is listed once, under the first. Only threads with a
provider thread id can be reviewed (a review names its thread by that id).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.crm.models import Conversation, Message
from backend.feedback.judgements import disagrees, judgements
from backend.outcomes.rules import OutcomeRules
from backend.reviews.models import ReviewReason
from backend.reviews.threads import DealStatus, closings
from backend.viewer import Viewer, scoped

PRIORITY = (
    ReviewReason.DISAGREEMENT,
    ReviewReason.LOST,
    ReviewReason.WON,
    ReviewReason.LONG_THREAD,
)
CANDIDATES_PER_REASON = 500  # bounds the work of one assignment run


@dataclass(frozen=True)
class Candidate:
    conversation_id: int
    reason: ReviewReason


def reviewable(viewer: Viewer, agent_ids: Sequence[int] | None) -> Select:
    """The ids of the threads the viewer may have reviewed (of ``agent_ids`` when given)."""
    statement = scoped(select(Conversation.id), Conversation, viewer).where(
        Conversation.external_thread_id.is_not(None)
    )
    if agent_ids is not None:
        statement = statement.where(Conversation.agent_id.in_(sorted(agent_ids)))
    return statement


async def _closed(
    session: AsyncSession,
    viewer: Viewer,
    base: Select,
    start: dt.datetime,
    end: dt.datetime,
) -> dict[ReviewReason, list[int]]:
    ended = await closings(session, viewer.organization_id, base, start=start, end=end)
    latest_first = sorted(ended.items(), key=lambda item: (item[1][1], item[0]), reverse=True)
    reasons = {DealStatus.WON: ReviewReason.WON, DealStatus.LOST: ReviewReason.LOST}
    found: dict[ReviewReason, list[int]] = {ReviewReason.WON: [], ReviewReason.LOST: []}
    for conversation_id, (status, _) in latest_first:
        found[reasons[status]].append(conversation_id)
    return found


async def _disagreeing(
    session: AsyncSession,
    viewer: Viewer,
    base: Select,
    *,
    agent_ids: Sequence[int] | None,
    start: dt.datetime,
    end: dt.datetime,
    rules: OutcomeRules,
) -> list[int]:
    rated = await judgements(
        session, viewer, agent_ids=agent_ids, start=start, end=end, rules=rules
    )
    counts = Counter(
        j.conversation_id for j in rated if j.conversation_id is not None and disagrees(j)
    )
    if not counts:
        return []
    allowed = set(await session.scalars(base.where(Conversation.id.in_(sorted(counts)))))
    return sorted(allowed, key=lambda c: (-counts[c], -c))


async def _long(
    session: AsyncSession,
    base: Select,
    *,
    start: dt.datetime,
    end: dt.datetime,
    min_messages: int,
) -> list[int]:
    in_range = case((and_(Message.sent_at >= start, Message.sent_at < end), 1), else_=0)
    count = func.count()
    statement = (
        select(Message.conversation_id)
        .where(Message.conversation_id.in_(base))
        .group_by(Message.conversation_id)
        .having(count >= min_messages, func.sum(in_range) > 0)
        .order_by(count.desc(), Message.conversation_id.desc())
        .limit(CANDIDATES_PER_REASON)
    )
    return list(await session.scalars(statement))


async def candidates(
    session: AsyncSession,
    viewer: Viewer,
    *,
    agent_ids: Sequence[int] | None,
    start: dt.datetime,
    end: dt.datetime,
    reasons: Collection[ReviewReason],
    min_messages: int,
    rules: OutcomeRules,
) -> list[Candidate]:
    """The threads worth reviewing in [start, end), in order of priority (see the module)."""
    base = reviewable(viewer, agent_ids)
    found: dict[ReviewReason, list[int]] = {}
    if ReviewReason.DISAGREEMENT in reasons:
        found[ReviewReason.DISAGREEMENT] = await _disagreeing(
            session, viewer, base, agent_ids=agent_ids, start=start, end=end, rules=rules
        )
    if ReviewReason.WON in reasons or ReviewReason.LOST in reasons:
        found.update(await _closed(session, viewer, base, start, end))
    if ReviewReason.LONG_THREAD in reasons:
        found[ReviewReason.LONG_THREAD] = await _long(
            session, base, start=start, end=end, min_messages=min_messages
        )
    listed: dict[int, ReviewReason] = {}
    for reason in PRIORITY:
        if reason not in reasons:
            continue
        for conversation_id in found.get(reason, [])[:CANDIDATES_PER_REASON]:
            listed.setdefault(conversation_id, reason)
    return [Candidate(c, reason) for c, reason in listed.items()]
