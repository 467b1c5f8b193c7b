"""Set-based aggregates behind the dashboards.

Each metric family is ONE grouped statement for every agent (or team) in scope at once, keyed
by agent or by team (``Scope.key``); never one query per agent, so the number of statements a
dashboard issues does not grow with its agents, teams or rows. Days are UTC days, as in the
calibration rollup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.calibration import STAT_FIELDS
from backend.actions.models import AgentAction, Decision
from backend.agents.models import Agent
from backend.baselines.models import HumanBaseline
from backend.calibration.models import CalibrationStat
from backend.crm.models import Deal, DealStage
from backend.database import is_postgresql
from backend.feedback.models import Feedback
from backend.outcomes.models import Outcome, OutcomeStatus
from backend.outcomes.rules import PIPELINE
from backend.signals.models import Signal, SignalKind
from backend.viewer import Viewer, scoped

Key = Literal["agent", "team"]


@dataclass(frozen=True)
class Scope:
    """Whose rows (agents; None = the whole organisation), which days (inclusive, UTC), and
    whether rows are summed per agent or per team."""

    agent_ids: tuple[int, ...] | None
    since: dt.date
    until: dt.date
    key: Key = "agent"

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.since, dt.time(), tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """The first instant after the range (exclusive upper bound)."""
        return dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def _keyed(viewer: Viewer, scope: Scope, model: Any, *columns: Any) -> Select:
    """``SELECT key, *columns FROM model`` in the viewer's scope and the dashboard's agents,
    where key is the row's agent or its agent's team."""
    if scope.key == "agent":
        statement = select(model.agent_id.label("key"), *columns).select_from(model)
    else:
        statement = (
            select(Agent.team_id.label("key"), *columns)
            .select_from(model)
            .join(Agent, Agent.id == model.agent_id)
        )
    return _in_scope(statement, viewer, scope, model)


def _in_scope(statement: Select, viewer: Viewer, scope: Scope, model: Any) -> Select:
    statement = scoped(statement, model, viewer)
    if scope.agent_ids is not None:
        statement = statement.where(model.agent_id.in_(scope.agent_ids))
    return statement


def _day(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    """The UTC day of a timestamp (SQLite stores UTC text; PostgreSQL a timestamptz)."""
    if is_postgresql(session):
        return func.date(func.timezone(literal_column("'UTC'"), column))
    return func.date(column)


def as_date(value: Any) -> dt.date:
    """A day as the driver returns it (a date on PostgreSQL, ISO text on SQLite)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _escalated() -> ColumnElement[bool]:
    """An escalation: the agent handed over to a person, or its policy said to."""
    return or_(
        AgentAction.action_type == "escalation", AgentAction.decision == Decision.ESCALATE.value
    )


def _flag(condition: Any) -> Any:
    return case((condition, 1), else_=0)


async def _rows(session: AsyncSession, statement: Select) -> list[Mapping[str, Any]]:
    rows = (await session.execute(statement)).mappings().all()
    # RowMapping is typed Mapping[str | Column, Any] but its keys() are the labels: read by name
    return cast(list[Mapping[str, Any]], list(rows))


async def baselines_in_force(
    session: AsyncSession, viewer: Viewer, team_ids: Sequence[int], until: dt.date
) -> dict[tuple[int, str], HumanBaseline]:
    """The human baseline in force at ``until`` per (team, action type): the latest valid."""
    statement = scoped(
        select(HumanBaseline).where(
            HumanBaseline.team_id.in_(sorted(set(team_ids))), HumanBaseline.valid_from <= until
        ),
        HumanBaseline,
        viewer,
    ).order_by(HumanBaseline.valid_from, HumanBaseline.id)
    return {(row.team_id, row.action_type): row for row in await session.scalars(statement)}


# -- metric families: one grouped statement each --------------------------------------------


async def action_totals(
    session: AsyncSession, viewer: Viewer, scope: Scope
) -> list[Mapping[str, Any]]:
    """Per key, action type and cost currency: actions, escalations, critical, cost, tokens."""
    statement = _keyed(
        viewer,
        scope,
        AgentAction,
        AgentAction.action_type,
        AgentAction.cost_currency.label("currency"),
        func.count().label("actions"),
        func.sum(_flag(_escalated())).label("escalations"),
        func.sum(_flag(AgentAction.is_critical)).label("critical"),
        func.sum(AgentAction.cost_amount).label("cost"),
        func.sum(AgentAction.cost_tokens).label("tokens"),
    ).where(AgentAction.occurred_at >= scope.start, AgentAction.occurred_at < scope.end)
    key = statement.selected_columns["key"]
    return await _rows(
        session, statement.group_by(key, AgentAction.action_type, AgentAction.cost_currency)
    )


async def actions_by_day(
    session: AsyncSession, viewer: Viewer, scope: Scope
) -> list[Mapping[str, Any]]:
    """Per UTC day and cost currency, over the whole scope: actions, escalations, cost, tokens."""
    inner = _in_scope(
        select(
            _day(session, AgentAction.occurred_at).label("day"),
            AgentAction.cost_currency.label("currency"),
            _flag(_escalated()).label("escalated"),
            AgentAction.cost_amount,
            AgentAction.cost_tokens,
        ).where(AgentAction.occurred_at >= scope.start, AgentAction.occurred_at < scope.end),
        viewer,
        scope,
        AgentAction,
    ).subquery()
    statement = select(
        inner.c.day,
        inner.c.currency,
        func.count().label("actions"),
        func.sum(inner.c.escalated).label("escalations"),
        func.sum(inner.c.cost_amount).label("cost"),
        func.sum(inner.c.cost_tokens).label("tokens"),
    ).group_by(inner.c.day, inner.c.currency)
    return await _rows(session, statement)


def _resolved() -> Any:
    return Outcome.status == OutcomeStatus.RESOLVED.value


async def outcome_totals(
    session: AsyncSession, viewer: Viewer, scope: Scope
) -> list[Mapping[str, Any]]:
    """Per key, action type and outcome type, for the actions taken in range: resolved
    outcomes, the sum of their values (successes; fractions on ordinal scales) and pending."""
    statement = (
        _keyed(
            viewer,
            scope,
            Outcome,
            Outcome.action_type,
            Outcome.outcome_type,
            func.sum(_flag(_resolved())).label("resolved"),
            func.coalesce(func.sum(Outcome.value), 0.0).label("successes"),
            func.sum(_flag(~_resolved())).label("pending"),
        )
        .join(AgentAction, AgentAction.id == Outcome.action_id)
        .where(AgentAction.occurred_at >= scope.start, AgentAction.occurred_at < scope.end)
    )
    # The actions' own scope too, so the planner reads only the scope's actions in range.
    statement = _in_scope(statement, viewer, scope, AgentAction)
    key = statement.selected_columns["key"]
    return await _rows(session, statement.group_by(key, Outcome.action_type, Outcome.outcome_type))


async def outcomes_by_day(
    session: AsyncSession, viewer: Viewer, scope: Scope, *, outcome_types: Sequence[str]
) -> list[Mapping[str, Any]]:
    """Per UTC day of the action, over the whole scope: resolved outcomes of ``outcome_types``
    and their successes (e.g. replies)."""
    per_outcome = _in_scope(
        select(
            _day(session, AgentAction.occurred_at).label("day"),
            _flag(_resolved()).label("resolved"),
            Outcome.value,
        )
        .select_from(Outcome)
        .join(AgentAction, AgentAction.id == Outcome.action_id)
        .where(
            AgentAction.occurred_at >= scope.start,
            AgentAction.occurred_at < scope.end,
            Outcome.outcome_type.in_(sorted(outcome_types)),
        ),
        viewer,
        scope,
        Outcome,
    )
    inner = _in_scope(per_outcome, viewer, scope, AgentAction).subquery()
    statement = select(
        inner.c.day,
        func.sum(inner.c.resolved).label("resolved"),
        func.coalesce(func.sum(inner.c.value), 0.0).label("successes"),
    ).group_by(inner.c.day)
    return await _rows(session, statement)


async def deal_impact(
    session: AsyncSession, viewer: Viewer, scope: Scope
) -> list[Mapping[str, Any]]:
    """Per key and deal currency: deals that moved forward, were won or lost in range (by the
    CRM signals matched to the agent's actions), and the amount of the deals won. A deal counts
    once per key however many signals it had."""
    kind, payload = Signal.kind, Signal.payload
    to_stage, from_stage = payload["to_stage"].as_string(), payload["from_stage"].as_string()
    positions = {stage: i for i, stage in enumerate(PIPELINE)}
    changed = kind == SignalKind.DEAL_STAGE_CHANGED.value
    won = or_(
        kind == SignalKind.DEAL_WON.value, and_(changed, to_stage == DealStage.CLOSED_WON.value)
    )
    lost = or_(
        kind == SignalKind.DEAL_LOST.value, and_(changed, to_stage == DealStage.CLOSED_LOST.value)
    )
    forward = or_(
        won,
        kind == SignalKind.OPPORTUNITY_CREATED.value,
        and_(changed, case(positions, value=to_stage) > case(positions, value=from_stage)),
    )
    kinds = [
        SignalKind.DEAL_STAGE_CHANGED,
        SignalKind.OPPORTUNITY_CREATED,
        SignalKind.DEAL_WON,
        SignalKind.DEAL_LOST,
    ]
    deal_signals = _keyed(
        viewer,
        scope,
        Signal,
        Signal.deal_id,
        func.max(_flag(forward)).label("progressed"),
        func.max(_flag(won)).label("won"),
        func.max(_flag(lost)).label("lost"),
    ).where(
        Signal.kind.in_([k.value for k in kinds]),
        Signal.deal_id.is_not(None),
        Signal.agent_id.is_not(None),
        Signal.occurred_at >= scope.start,
        Signal.occurred_at < scope.end,
    )
    key = deal_signals.selected_columns["key"]
    per_deal = deal_signals.group_by(key, Signal.deal_id).subquery()
    statement = (
        select(
            per_deal.c.key,
            Deal.currency,
            func.sum(per_deal.c.progressed).label("progressed"),
            func.sum(per_deal.c.won).label("won"),
            func.sum(per_deal.c.lost).label("lost"),
            func.sum(case((per_deal.c.won == 1, Deal.amount), else_=0)).label("amount_won"),
        )
        .join(Deal, Deal.id == per_deal.c.deal_id)
        .group_by(per_deal.c.key, Deal.currency)
    )
    return await _rows(session, statement)


async def feedback_totals(
    session: AsyncSession, viewer: Viewer, scope: Scope
) -> list[Mapping[str, Any]]:
    """Per key and target type, for feedback given in range: count, rating sum, prompted."""
    statement = _keyed(
        viewer,
        scope,
        Feedback,
        Feedback.target_type,
        func.count().label("count"),
        func.sum(Feedback.rating).label("rating_sum"),
        func.sum(_flag(Feedback.prompted)).label("prompted"),
    ).where(Feedback.created_at >= scope.start, Feedback.created_at < scope.end)
    key = statement.selected_columns["key"]
    return await _rows(session, statement.group_by(key, Feedback.target_type))


async def calibration_totals(
    session: AsyncSession,
    viewer: Viewer,
    scope: Scope,
    *,
    matured_until: Mapping[str, dt.date],
    default_matured_until: dt.date,
) -> list[Mapping[str, Any]]:
    """Per key, action type, bin and maturity: the calibration rollup's sums over the range.

    ``matured`` is true for days whose calibrating windows have all closed (``matured_until``
    per action type, ``default_matured_until`` for the others): verdicts are judged on those
    only, as in ``backend.calibration.service.reassess``."""
    day, action_type = CalibrationStat.day, CalibrationStat.action_type
    matured = or_(
        *(and_(action_type == t, day <= until) for t, until in matured_until.items()),
        and_(action_type.not_in(sorted(matured_until)), day <= default_matured_until),
    )
    inner = (
        _keyed(
            viewer,
            scope,
            CalibrationStat,
            CalibrationStat.action_type,
            CalibrationStat.bin,
            _flag(matured).label("matured"),
            *(getattr(CalibrationStat, n) for n in STAT_FIELDS),
        )
        .where(day >= scope.since, day <= scope.until)
        .subquery()
    )
    statement = select(
        inner.c.key,
        inner.c.action_type,
        inner.c.bin,
        inner.c.matured,
        *(func.sum(inner.c[n]).label(n) for n in STAT_FIELDS),
    ).group_by(inner.c.key, inner.c.action_type, inner.c.bin, inner.c.matured)
    return await _rows(session, statement)
