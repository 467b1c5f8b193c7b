"""Queries over outcomes: the viewer's outcomes, newest first, and the labelling queue, oldest
first; one keyset page at a time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.outcomes.models import Outcome, OutcomeStatus
from backend.outcomes.service import LABELLERS
from backend.pagination import Page, paginate
from backend.viewer import Viewer, ViewerRole, scoped

OUTCOME_ORDER = (Outcome.opened_at, Outcome.id)


@dataclass(frozen=True)
class OutcomeFilter:
    """Conditions that must all hold; None means "any". An empty tuple matches nothing."""

    agent_id: int | None = None
    action_type: str | None = None
    outcome_types: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    window: str | None = None
    opened_from: dt.datetime | None = None  # inclusive
    opened_to: dt.datetime | None = None  # exclusive


def require_outcome_reader(viewer: Viewer) -> None:
    """People read by role; the agent's key reads its own outcomes (it caused them); any other
    key needs `read:outcomes`."""
    if viewer.role is not ViewerRole.AGENT:
        viewer.require_scope("read:outcomes")


async def list_outcomes(
    session: AsyncSession,
    viewer: Viewer,
    *,
    where: OutcomeFilter,
    first: int | None,
    after: str | None,
) -> Page[Outcome]:
    """The outcomes the viewer may see that match ``where``, newest first by (opened_at, id)."""
    require_outcome_reader(viewer)
    statement = scoped(select(Outcome), Outcome, viewer)
    if where.agent_id is not None:
        statement = statement.where(Outcome.agent_id == where.agent_id)
    if where.action_type is not None:
        statement = statement.where(Outcome.action_type == where.action_type)
    if where.outcome_types is not None:
        statement = statement.where(Outcome.outcome_type.in_(where.outcome_types))
    if where.statuses is not None:
        statement = statement.where(Outcome.status.in_(where.statuses))
    if where.window is not None:
        statement = statement.where(Outcome.window == where.window)
    if where.opened_from is not None:
        statement = statement.where(Outcome.opened_at >= where.opened_from)
    if where.opened_to is not None:
        statement = statement.where(Outcome.opened_at < where.opened_to)
    return await paginate(session, statement, order=OUTCOME_ORDER, first=first, after=after)


async def label_queue_page(
    session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None
) -> Page[Outcome]:
    """Outcomes waiting for a person's label within the viewer's scope, oldest first by
    (opened_at, id): a work queue is worked from its oldest task. People only."""
    viewer.require_role(*LABELLERS)
    statement = scoped(select(Outcome), Outcome, viewer).where(
        Outcome.status == OutcomeStatus.NEEDS_LABEL.value
    )
    return await paginate(
        session, statement, order=OUTCOME_ORDER, first=first, after=after, ascending=True
    )
