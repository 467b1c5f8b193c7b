"""The actions' daily rollup (``action_stats``): each action recorded adds to its day's row
with one atomic upsert in its own unit of work; ``rebuild`` sums the table anew from the
actions (the migration that created it, the demo seed)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Delete, Insert, case, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import ActionStat, AgentAction, Decision
from backend.database import add_to_rollup, utc_date, utc_day

KEY = ("organization_id", "agent_id", "day", "action_type", "currency")
SUMS = ("actions", "escalations", "critical", "cost", "tokens")
ESCALATION = "escalation"


def escalated(action_type: str, decision: str | None) -> bool:
    """An escalation: the agent handed over to a person, or its policy said to."""
    return action_type == ESCALATION or decision == Decision.ESCALATE.value


def escalated_clause() -> ColumnElement[bool]:
    """``escalated`` in SQL: what the rollup counts, and the list behind the count (a NULL
    decision is no escalation, so its negation holds there too)."""
    return or_(
        AgentAction.action_type == ESCALATION,
        func.coalesce(AgentAction.decision, "") == Decision.ESCALATE.value,
    )


async def add_action(session: AsyncSession, action: AgentAction) -> None:
    """Count an action just recorded in its day's row."""
    cell = (
        action.organization_id,
        action.agent_id,
        utc_date(action.occurred_at),
        action.action_type,
        action.cost_currency,
    )
    amounts = (
        1,
        int(escalated(action.action_type, action.decision)),
        int(action.is_critical),
        Decimal(action.cost_amount),
        action.cost_tokens,
    )
    await add_to_rollup(session, ActionStat, [(cell, amounts)], key=KEY, sums=SUMS)


def _count_if(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def rebuild(dialect: str) -> tuple[Delete, Insert]:
    """The statements that recompute every row from the actions (in one transaction)."""
    a = AgentAction
    day = utc_day(dialect, a.occurred_at)
    sums = select(
        a.organization_id,
        a.agent_id,
        day,
        a.action_type,
        a.cost_currency,
        func.count(),
        _count_if(escalated_clause()),
        _count_if(a.is_critical),
        func.coalesce(func.sum(a.cost_amount), 0),
        func.coalesce(func.sum(a.cost_tokens), 0),
    ).group_by(a.organization_id, a.agent_id, day, a.action_type, a.cost_currency)
    return delete(ActionStat), insert(ActionStat).from_select([*KEY, *SUMS], sums)
