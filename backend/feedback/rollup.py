"""The ratings' daily rollups, by the day each rating was first given: ``feedback_stats``
(count, rating sum, prompted per target type) and ``rework_stats`` (ratings judging an action
type's work wrong). Every rating given, changed, marked as prompted or withdrawn adds its
difference with one atomic upsert per row in its own unit of work; ``rebuild`` and
``rebuild_rework`` sum the tables anew from the ratings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import Delete, Insert, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.database import add_to_rollup, utc_date, utc_day
from backend.feedback.models import Feedback, FeedbackStat, FeedbackTarget, ReworkStat

KEY = ("organization_id", "agent_id", "day", "target_type")
SUMS = ("count", "rating_sum", "prompted")
REWORK_KEY = ("organization_id", "agent_id", "day", "action_type")
REWORK_SUMS = ("redone",)


class Change(NamedTuple):
    """A difference to one rating's row: count, rating and prompted (each -1, 0 or +1, the
    rating by any amount)."""

    organization_id: int
    agent_id: int
    created_at: dt.datetime
    target_type: str
    ratings: int
    rating: int
    prompted: int
    # the action type whose work the rating judges (None: a thread, or a message no action
    # sent), and the difference in whether it judges that work wrong (-1, 0 or +1)
    action_type: str | None = None
    wrong: int = 0


async def add_changes(session: AsyncSession, changes: Iterable[Change]) -> None:
    changes = list(changes)
    increments = [
        (
            (c.organization_id, c.agent_id, utc_date(c.created_at), c.target_type),
            (c.ratings, c.rating, c.prompted),
        )
        for c in changes
    ]
    await add_to_rollup(session, FeedbackStat, increments, key=KEY, sums=SUMS)
    rework = [
        ((c.organization_id, c.agent_id, utc_date(c.created_at), c.action_type), (c.wrong,))
        for c in changes
        if c.action_type is not None and c.wrong
    ]
    await add_to_rollup(session, ReworkStat, rework, key=REWORK_KEY, sums=REWORK_SUMS)


def rebuild(dialect: str) -> tuple[Delete, Insert]:
    """The statements that recompute every row from the ratings."""
    f = Feedback
    day = utc_day(dialect, f.created_at)
    sums = select(
        f.organization_id,
        f.agent_id,
        day,
        f.target_type,
        func.count(),
        func.coalesce(func.sum(f.rating), 0),
        func.sum(case((f.prompted, 1), else_=0)),
    ).group_by(f.organization_id, f.agent_id, day, f.target_type)
    return delete(FeedbackStat), insert(FeedbackStat).from_select([*KEY, *SUMS], sums)


def judged_action_type(message_id: Any, action_id: Any) -> Any:
    """The action type a rating of a message or an action judges: the action's, or that of the
    first action that sent the message (as the application finds it: ``first_action_type``)."""
    of_action = select(AgentAction.action_type).where(AgentAction.id == action_id)
    of_message = (
        select(AgentAction.action_type)
        .where(AgentAction.message_id == message_id)
        .order_by(AgentAction.occurred_at, AgentAction.id)
        .limit(1)
    )
    return func.coalesce(of_action.scalar_subquery(), of_message.scalar_subquery())


def rebuild_rework(dialect: str) -> tuple[Delete, Insert]:
    """The statements that recount ``rework_stats`` from the ratings (``judged_wrong``)."""
    f = Feedback
    day = utc_day(dialect, f.created_at)
    action_type = judged_action_type(f.message_id, f.action_id).label("action_type")
    wrong = (
        select(f.organization_id, f.agent_id, day.label("day"), action_type)
        .where(
            ((f.target_type == FeedbackTarget.MESSAGE.value) & (f.rating == 0))
            | ((f.target_type == FeedbackTarget.ACTION.value) & (f.rating <= 2))
        )
        .subquery()
    )
    counts = (
        select(
            wrong.c.organization_id,
            wrong.c.agent_id,
            wrong.c.day,
            wrong.c.action_type,
            func.count(),
        )
        .where(wrong.c.action_type.is_not(None))
        .group_by(wrong.c.organization_id, wrong.c.agent_id, wrong.c.day, wrong.c.action_type)
    )
    return delete(ReworkStat), insert(ReworkStat).from_select([*REWORK_KEY, *REWORK_SUMS], counts)
