"""The ratings' daily rollup (``feedback_stats``), by the day each rating was first given:
every rating given, changed, marked as prompted or withdrawn adds its difference with one atomic
upsert in its own unit of work; ``rebuild`` sums the table anew from the ratings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import Delete, Insert, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.database import add_to_rollup, utc_date, utc_day
from backend.feedback.models import Feedback, FeedbackStat

KEY = ("organization_id", "agent_id", "day", "target_type")
SUMS = ("count", "rating_sum", "prompted")


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


async def add_changes(session: AsyncSession, changes: Iterable[Change]) -> None:
    increments = [
        (
            (c.organization_id, c.agent_id, utc_date(c.created_at), c.target_type),
            (c.ratings, c.rating, c.prompted),
        )
        for c in changes
    ]
    await add_to_rollup(session, FeedbackStat, increments, key=KEY, sums=SUMS)


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
