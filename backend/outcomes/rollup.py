"""The outcomes' daily rollup (``outcome_stats``), by the day their action was taken: every
change of an outcome's state adds its difference to its row (decided: count and sum of values;
still open or waiting for a label: pending) with one atomic upsert in its own unit of work;
``rebuild`` sums the table anew from the outcomes and their actions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import Delete, Insert, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.database import add_to_rollup, utc_day
from backend.outcomes.models import Outcome, OutcomeStat, OutcomeStatus

KEY = ("organization_id", "agent_id", "day", "action_type", "outcome_type")
SUMS = ("resolved", "successes", "pending")
RESOLVED = OutcomeStatus.RESOLVED.value


class Cell(NamedTuple):
    organization_id: int
    agent_id: int
    day: dt.date  # the UTC day the action was taken
    action_type: str
    outcome_type: str


def tally(status: str, value: float | None) -> tuple[int, float, int]:
    """What one outcome in this state counts for: (resolved, successes, pending)."""
    if status == RESOLVED:
        return 1, float(value or 0.0), 0
    return 0, 0.0, 1


async def add_changes(
    session: AsyncSession,
    changes: Iterable[tuple[Cell, tuple[str, float | None] | None, tuple[str, float | None]]],
) -> None:
    """Count outcomes that moved from one state (None: did not exist) to another, each as
    ``(cell, before, after)``."""
    increments = []
    for cell, before, after in changes:
        then = tally(*before) if before is not None else (0, 0.0, 0)
        increments.append((cell, [new - old for new, old in zip(tally(*after), then, strict=True)]))
    await add_to_rollup(session, OutcomeStat, increments, key=KEY, sums=SUMS)


def rebuild(dialect: str) -> tuple[Delete, Insert]:
    """The statements that recompute every row from the outcomes and their actions."""
    o = Outcome
    resolved = o.status == RESOLVED
    day = utc_day(dialect, AgentAction.occurred_at)
    sums = (
        select(
            o.organization_id,
            o.agent_id,
            day,
            o.action_type,
            o.outcome_type,
            func.sum(case((resolved, 1), else_=0)),
            func.coalesce(func.sum(case((resolved, o.value), else_=0.0)), 0.0),
            func.sum(case((resolved, 0), else_=1)),
        )
        .join(AgentAction, AgentAction.id == o.action_id)
        .group_by(o.organization_id, o.agent_id, day, o.action_type, o.outcome_type)
    )
    return delete(OutcomeStat), insert(OutcomeStat).from_select([*KEY, *SUMS], sums)
