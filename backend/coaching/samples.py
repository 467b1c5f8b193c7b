"""What coaching mines, read from the database: a team's actions over a range of days with one
decided outcome each (an outcome type's resolved value, or people's mean rating), and the
time of the previous action on each action's thread.

Only decided outcomes count, and only of days whose windows have all closed (the caller passes
ranges that end at ``OutcomeRules.last_matured_day``): a window still open would count a quick
success and not yet the failure that comes when it closes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, cast, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.agents.models import Agent
from backend.coaching.features import SPACING_LOOKBACK, ActionRow
from backend.database import UTCDateTime
from backend.feedback.models import Feedback, FeedbackTarget
from backend.outcomes.models import Outcome, OutcomeStatus, OutcomeWindow
from backend.outcomes.rules import FALLBACK_PLANS, OutcomeRules

HUMAN_RATING = "human_rating"  # people's ratings of the action (or of the message it sent)
# The outcome that says whether each kind of action worked (what its confidence is about).
MINED_OUTCOMES = ("email_reply", "meeting_attendance", "deal_progression", "escalation_quality")


@dataclass(frozen=True)
class Period:
    """UTC days of the actions mined, inclusive."""

    start: dt.date
    end: dt.date

    @property
    def since(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), dt.UTC)

    @property
    def until(self) -> dt.datetime:  # exclusive
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), dt.UTC)


def outcome_window(rules: OutcomeRules, outcome_type: str) -> OutcomeWindow:
    """The window an outcome type is judged in (ratings: a week for people to give them)."""
    if outcome_type == HUMAN_RATING:
        return OutcomeWindow.ENGAGEMENT_7D
    for plans in (*rules.plans.values(), FALLBACK_PLANS):
        for plan in plans:
            if plan.outcome_type == outcome_type:
                return plan.window
    raise ValueError(f"no rule opens outcome type {outcome_type!r}")


def matured_period(rules: OutcomeRules, outcome_type: str, *, today: dt.date, weeks: int) -> Period:
    """The ``weeks`` of days ending at the last day whose windows have all closed."""
    end = rules.last_matured_day(outcome_window(rules, outcome_type), today)
    return Period(end - dt.timedelta(days=7 * weeks - 1), end)


async def team_agent_ids(session: AsyncSession, organization_id: int, team_id: int) -> list[int]:
    statement = select(Agent.id).where(
        Agent.organization_id == organization_id, Agent.team_id == team_id
    )
    return list(await session.scalars(statement.order_by(Agent.id)))


def _lagged_actions(organization_id: int, agent_ids: Sequence[int], period: Period) -> Select:
    """The team's actions from the lookback before ``period`` to its end, each with the time of
    the previous action on its thread."""
    previous = func.lag(AgentAction.occurred_at, type_=UTCDateTime()).over(
        partition_by=AgentAction.conversation_id,
        order_by=(AgentAction.occurred_at, AgentAction.id),
    )
    return select(
        AgentAction.id,
        AgentAction.agent_id,
        AgentAction.conversation_id,
        AgentAction.action_type,
        AgentAction.occurred_at,
        AgentAction.details,
        previous.label("previous_at"),
    ).where(
        AgentAction.organization_id == organization_id,
        AgentAction.agent_id.in_(sorted(agent_ids)),
        AgentAction.occurred_at >= period.since - SPACING_LOOKBACK,
        AgentAction.occurred_at < period.until,
    )


def _rated_actions(organization_id: int, agent_ids: Sequence[int], period: Period) -> Select:
    """Each action's mean rating on 0..1: decisions rated 1..5 as (r - 1) / 4, the message it
    sent rated thumbs down/up as 0/1."""
    agents = sorted(agent_ids)
    on_action = select(
        Feedback.action_id.label("action_id"),
        (cast(Feedback.rating - 1, Float) / 4.0).label("value"),
    ).where(
        Feedback.organization_id == organization_id,
        Feedback.agent_id.in_(agents),
        Feedback.target_type == FeedbackTarget.ACTION.value,
    )
    on_message = (
        select(AgentAction.id.label("action_id"), cast(Feedback.rating, Float).label("value"))
        .join(Feedback, Feedback.message_id == AgentAction.message_id)
        .where(
            Feedback.organization_id == organization_id,
            Feedback.agent_id.in_(agents),
            Feedback.target_type == FeedbackTarget.MESSAGE.value,
            AgentAction.organization_id == organization_id,
            AgentAction.occurred_at >= period.since,
            AgentAction.occurred_at < period.until,
        )
    )
    ratings = union_all(on_action, on_message).subquery()
    return select(ratings.c.action_id, func.avg(ratings.c.value).label("value")).group_by(
        ratings.c.action_id
    )


async def decided_actions(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_ids: Sequence[int],
    outcome_type: str,
    period: Period,
) -> list[ActionRow]:
    """The team's actions taken in ``period`` with their decided outcome of ``outcome_type``
    (``HUMAN_RATING``: those people rated), oldest first."""
    if not agent_ids:
        return []
    actions = _lagged_actions(organization_id, agent_ids, period).subquery()
    conditions: list[ColumnElement[bool]]
    value: ColumnElement[Any]
    if outcome_type == HUMAN_RATING:
        rated = _rated_actions(organization_id, agent_ids, period).subquery()
        value, joined = rated.c.value, actions.join(rated, rated.c.action_id == actions.c.id)
        conditions = []
    else:
        value = Outcome.__table__.c.value
        joined = actions.join(Outcome, Outcome.action_id == actions.c.id)
        conditions = [
            Outcome.organization_id == organization_id,
            Outcome.outcome_type == outcome_type,
            Outcome.status == OutcomeStatus.RESOLVED.value,
        ]
    statement = (
        select(*actions.c, value.label("outcome"))
        .select_from(joined)
        .where(actions.c.occurred_at >= period.since, *conditions)
        .order_by(actions.c.occurred_at, actions.c.id)
    )
    return [
        ActionRow(
            action_id=row.id,
            agent_id=row.agent_id,
            conversation_id=row.conversation_id,
            action_type=row.action_type,
            occurred_at=row.occurred_at,
            details=row.details or {},
            previous_at=row.previous_at,
            outcome=float(row.outcome),
        )
        for row in await session.execute(statement)
    ]
