"""Hand-built rollups and rules for the alert tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alerts.models import AlertRule
from backend.outcomes.models import OutcomeStat
from tests.factories import NOW

TODAY = NOW.date()
# A 7-day reply window: the last matured day is 8 days before today.
LAST_MATURED = TODAY - dt.timedelta(days=8)


async def reply_history(
    session: AsyncSession,
    agent: Any,
    *,
    days: int,
    sent: int,
    replies: Callable[[dt.date], int],
    last_day: dt.date = LAST_MATURED,
) -> None:
    """``sent`` decided e-mail reply outcomes a day for ``days`` days up to ``last_day``, of
    which ``replies(day)`` replied (the agent's earlier rows replaced)."""
    await session.execute(
        delete(OutcomeStat).where(
            OutcomeStat.agent_id == agent.id, OutcomeStat.outcome_type == "email_reply"
        )
    )
    session.add_all(
        OutcomeStat(
            organization_id=agent.organization_id,
            agent_id=agent.id,
            day=day,
            action_type="email",
            outcome_type="email_reply",
            resolved=sent,
            successes=float(replies(day)),
            pending=0,
        )
        for day in (last_day - dt.timedelta(days=i) for i in range(days))
    )
    await session.flush()


async def add_rule(session: AsyncSession, organization_id: int, **values: Any) -> AlertRule:
    defaults: dict[str, Any] = {
        "name": "rule",
        "kind": "threshold",
        "metric": "reply_rate",
        "scope": "organization",
        "window_days": 7,
        "hold_hours": 24,
        "severity": "warning",
        "channels": ["dashboard"],
    }
    rule = AlertRule(organization_id=organization_id, **{**defaults, **values})
    session.add(rule)
    await session.flush()
    return rule
