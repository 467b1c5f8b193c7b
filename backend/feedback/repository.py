"""Queries over feedback: the ratings the viewer may see, and those the viewer gave, newest
first, one keyset page at a time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.feedback.models import Feedback
from backend.pagination import Page, paginate
from backend.viewer import Viewer, ViewerRole, scoped

FEEDBACK_ORDER = (Feedback.created_at, Feedback.id)
PEOPLE = (ViewerRole.REP, ViewerRole.MANAGER, ViewerRole.EXECUTIVE, ViewerRole.ADMIN)


@dataclass(frozen=True)
class FeedbackFilter:
    """Conditions that must all hold; None means "any"."""

    agent_id: int | None = None
    target_type: str | None = None
    channel: str | None = None
    prompted: bool | None = None
    min_rating: int | None = None  # inclusive
    max_rating: int | None = None  # inclusive
    created_from: dt.datetime | None = None  # inclusive
    created_to: dt.datetime | None = None  # exclusive


async def list_feedback(
    session: AsyncSession,
    viewer: Viewer,
    *,
    where: FeedbackFilter,
    first: int | None,
    after: str | None,
) -> Page[Feedback]:
    """The feedback the viewer may see that matches ``where``, newest first by
    (created_at, id). People read by role; API keys need `read:feedback` (agent keys have
    none: ratings of the agent are for the people who coach it)."""
    viewer.require_scope("read:feedback")
    statement = _matching(scoped(select(Feedback), Feedback, viewer), where)
    return await paginate(session, statement, order=FEEDBACK_ORDER, first=first, after=after)


async def list_feedback_given(
    session: AsyncSession,
    viewer: Viewer,
    *,
    where: FeedbackFilter,
    first: int | None,
    after: str | None,
) -> Page[Feedback]:
    """The feedback the viewer (a person) gave that matches ``where``, newest first: on any
    agent, their own words (a peer review of a teammate's thread too). People only."""
    viewer.require_role(*PEOPLE)
    statement = select(Feedback).where(
        Feedback.organization_id == viewer.organization_id, Feedback.author_id == viewer.user_id
    )
    return await paginate(
        session, _matching(statement, where), order=FEEDBACK_ORDER, first=first, after=after
    )


def _matching(statement: Select[Any], where: FeedbackFilter) -> Select[Any]:
    if where.agent_id is not None:
        statement = statement.where(Feedback.agent_id == where.agent_id)
    if where.target_type is not None:
        statement = statement.where(Feedback.target_type == where.target_type)
    if where.channel is not None:
        statement = statement.where(Feedback.channel == where.channel)
    if where.prompted is not None:
        statement = statement.where(Feedback.prompted == where.prompted)
    if where.min_rating is not None:
        statement = statement.where(Feedback.rating >= where.min_rating)
    if where.max_rating is not None:
        statement = statement.where(Feedback.rating <= where.max_rating)
    if where.created_from is not None:
        statement = statement.where(Feedback.created_at >= where.created_from)
    if where.created_to is not None:
        statement = statement.where(Feedback.created_at < where.created_to)
    return statement
