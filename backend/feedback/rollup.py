"""The ratings' daily rollup (``feedback_stats``), by the day each rating was first given:
every rating given, changed, marked as prompted or withdrawn adds its difference with one atomic
upsert in its own unit of work; ``rebuild`` sums the table anew from the ratings."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import Delete, Insert, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.database import insert_rows, utc_date, utc_day
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
    sums: dict[tuple[int, int, dt.date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in changes:
        cell = sums[(c.organization_id, c.agent_id, utc_date(c.created_at), c.target_type)]
        cell[0], cell[1], cell[2] = cell[0] + c.ratings, cell[1] + c.rating, cell[2] + c.prompted
    rows = [
        {**dict(zip(KEY, key, strict=True)), **dict(zip(SUMS, d, strict=True))}
        for key, d in sorted(sums.items())  # one lock order for every writer
        if any(d)
    ]
    await insert_rows(session, FeedbackStat, rows, conflict=KEY, add=SUMS)


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
