"""Queries over outcomes: the viewer's outcomes, newest first, the labelling queue, oldest
first, and pages of actions with their outcomes; one keyset page at a time, read as plain rows
(columns mapped to named tuples, no ORM identity map on these hot paths)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Row, func, select, tuple_, type_coerce
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import NullType

from backend.actions.models import AgentAction
from backend.actions.repository import (
    ACTION_ORDER,
    ActionFilter,
    ActionRow,
    action_row,
    actions_query,
    list_actions,
)
from backend.actions.repository import WIDTH as ACTION_WIDTH
from backend.lookup import may_read
from backend.outcomes.models import Outcome, OutcomeStatus
from backend.outcomes.service import LABELLERS
from backend.pagination import Page, paginate
from backend.scope import scope_agents
from backend.viewer import Viewer, ViewerRole, scoped

OUTCOME_ORDER = (Outcome.opened_at, Outcome.id)


class OutcomeRow(NamedTuple):
    """What a list shows of an outcome (the columns of ``OUTCOME_COLUMNS``, in their order)."""

    id: int
    action_id: int
    outcome_type: str
    window: str
    scale: str
    level: int | None
    value: float | None
    status: str
    detection: str
    label_reason: str | None
    evidence: dict[str, Any] | None
    opened_at: dt.datetime
    due_at: dt.datetime | None
    resolved_at: dt.datetime | None


OUTCOME_COLUMNS = tuple(getattr(Outcome, name) for name in OutcomeRow._fields)
WIDTH = len(OUTCOME_COLUMNS)


def outcome_row(row: Row[Any]) -> OutcomeRow:
    """The outcome of a result row whose first columns are ``OUTCOME_COLUMNS``."""
    return OutcomeRow._make(row[:WIDTH])


@dataclass(frozen=True, slots=True)
class ActionWithOutcomes:
    action: ActionRow
    outcomes: tuple[OutcomeRow, ...]  # by id


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
    count: bool = True,
) -> Page[OutcomeRow]:
    """The outcomes the viewer may see that match ``where``, newest first by (opened_at, id);
    ``count``: also how many match in all (one more statement)."""
    require_outcome_reader(viewer)
    statement = scoped(select(*OUTCOME_COLUMNS), Outcome, viewer)
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
    return await paginate(
        session,
        statement,
        order=OUTCOME_ORDER,
        first=first,
        after=after,
        count=count,
        item=outcome_row,
    )


async def label_queue_page(
    session: AsyncSession,
    viewer: Viewer,
    *,
    first: int | None,
    after: str | None,
    count: bool = True,
    agent_id: int | None = None,
    team_id: int | None = None,
) -> Page[OutcomeRow]:
    """Outcomes waiting for a person's label within the viewer's scope, oldest first by
    (opened_at, id): a work queue is worked from its oldest task. People only. Narrowed to one
    agent or one team's agents, checked as `scope_agents` checks them (out of scope: not found;
    not both)."""
    viewer.require_role(*LABELLERS)
    statement = scoped(select(*OUTCOME_COLUMNS), Outcome, viewer).where(
        Outcome.status == OutcomeStatus.NEEDS_LABEL.value
    )
    agents = await scope_agents(session, viewer, agent_id=agent_id, team_id=team_id)
    if agents is not None:
        statement = statement.where(Outcome.agent_id.in_(agents))
    return await paginate(
        session,
        statement,
        order=OUTCOME_ORDER,
        first=first,
        after=after,
        count=count,
        ascending=True,
        item=outcome_row,
    )


async def outcomes_of_actions(
    session: AsyncSession, viewer: Viewer, action_ids: Iterable[int]
) -> dict[int, list[OutcomeRow]]:
    """The outcomes of these actions that the viewer may read, by action, each list by id."""
    wanted = sorted(set(action_ids))
    grouped: dict[int, list[OutcomeRow]] = {a: [] for a in wanted}
    if not wanted or not may_read(viewer, Outcome):
        return grouped
    statement = scoped(
        select(*OUTCOME_COLUMNS).where(Outcome.action_id.in_(wanted)).order_by(Outcome.id),
        Outcome,
        viewer,
    )
    for row in await session.execute(statement):
        grouped[row[1]].append(outcome_row(row))
    return grouped


async def list_actions_with_outcomes(
    session: AsyncSession,
    viewer: Viewer,
    *,
    where: ActionFilter,
    first: int | None,
    after: str | None,
    count: bool = True,
) -> Page[ActionWithOutcomes]:
    """`list_actions` with each action's outcomes (those the viewer may read, by id).

    On PostgreSQL one statement: each action of the page carries its outcomes as an array of
    records (a correlated `array_agg` over the unique (action_id, outcome_type) index).
    Elsewhere two:
    the page, then the outcomes of its actions."""
    readable = may_read(viewer, Outcome)
    if session.get_bind().dialect.name == "postgresql" and readable:
        return await paginate(
            session,
            actions_query(viewer, where).add_columns(_outcome_records(viewer)),
            order=ACTION_ORDER,
            first=first,
            after=after,
            count=count,
            item=_action_with_outcomes,
        )
    page = await list_actions(session, viewer, where=where, first=first, after=after, count=count)
    found = await outcomes_of_actions(session, viewer, (a.id for a in page.items))
    return Page(
        items=[ActionWithOutcomes(a, tuple(found.get(a.id, ()))) for a in page.items],
        keys=page.keys,
        has_next=page.has_next,
        has_previous=page.has_previous,
        total=page.total,
    )


# The outcomes of the enclosing statement's action, as an array of anonymous records (the
# columns of ``OUTCOME_COLUMNS``) by id, or NULL when it has none (built once: expressions are
# immutable). asyncpg decodes records in binary, each value of its own type: no JSON to parse,
# no timestamps as text.
_RECORDS = select(
    type_coerce(
        func.array_agg(aggregate_order_by(tuple_(*OUTCOME_COLUMNS), Outcome.id)), NullType()
    )
).where(Outcome.action_id == AgentAction.id)


def _outcome_records(viewer: Viewer) -> Any:
    """The outcomes of the enclosing statement's action that ``viewer`` may read (`_RECORDS`)."""
    return scoped(_RECORDS, Outcome, viewer).scalar_subquery().label("outcomes")


def _action_with_outcomes(row: Row[Any]) -> ActionWithOutcomes:
    found = row[ACTION_WIDTH]
    return ActionWithOutcomes(action_row(row), tuple(map(OutcomeRow._make, found)) if found else ())
