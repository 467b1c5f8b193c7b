"""Daily series of a rule's metric over its subject, read from the daily rollups (one grouped
statement each; what is read grows with the days asked for, never with the history).

Outcome rates count only matured days (every window of the day's actions has closed): a day
still maturing leans towards success, since "no reply" is only decided when the window ends.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.calibration import debiased_calibration_error
from backend.actions.models import ActionStat
from backend.alerts.metrics import Metric
from backend.calibration.maturity import assessment_days
from backend.calibration.rollup import load_stats
from backend.outcomes.models import OutcomeStat
from backend.outcomes.rules import rules_for


@dataclass(frozen=True)
class DailyCounts:
    days: list[dt.date]
    trials: list[int]
    successes: list[int]

    @property
    def total_trials(self) -> int:
        return sum(self.trials)

    @property
    def total_successes(self) -> int:
        return sum(self.successes)


def last_judged_day(
    metric: Metric, action_type: str | None, config: dict[str, Any] | None, today: dt.date
) -> dt.date:
    """The last day the metric may be judged on: for outcome rates the last matured day of its
    outcome type (the earliest, over the action types that have it), else yesterday (today is
    not over)."""
    if metric.source == "outcomes":
        rules = rules_for(config)
        matured = [
            rules.last_matured_day(plan.window, today)
            for kind, plans in rules.plans.items()
            for plan in plans
            if plan.outcome_type == metric.outcome_type
            and (action_type is None or kind == action_type)
        ]
        return min(matured) if matured else today - dt.timedelta(days=1)
    if metric.source == "calibration":
        return assessment_days(config, action_type or "email", today)[1]
    return today - dt.timedelta(days=1)


async def daily_counts(
    session: AsyncSession,
    metric: Metric,
    *,
    organization_id: int,
    agent_ids: Sequence[int] | None,
    action_type: str | None,
    since: dt.date,
    until: dt.date,
) -> DailyCounts:
    """Per day from ``since`` to ``until`` (inclusive; days without rows are zeros): trials and
    successes of a rate metric."""
    if metric.source == "outcomes":
        o = OutcomeStat
        model: Any = o
        trials, successes = func.sum(o.resolved), func.sum(o.successes)
        statement = select(o.day, trials, successes).where(o.outcome_type == metric.outcome_type)
    elif metric.source == "actions":
        a = ActionStat
        model = a
        statement = select(a.day, func.sum(a.actions), func.sum(a.escalations))
    else:
        raise ValueError(f"{metric.name} has no daily counts")
    statement = statement.where(
        model.organization_id == organization_id, model.day >= since, model.day <= until
    )
    if agent_ids is not None:
        statement = statement.where(model.agent_id.in_(sorted(agent_ids)))
    if action_type is not None:
        statement = statement.where(model.action_type == action_type)
    rows = {
        row[0]: (int(row[1] or 0), round(row[2] or 0))
        for row in await session.execute(statement.group_by(model.day))
    }
    days = [since + dt.timedelta(days=i) for i in range((until - since).days + 1)]
    return DailyCounts(
        days=days,
        trials=[rows.get(d, (0, 0))[0] for d in days],
        successes=[rows.get(d, (0, 0))[1] for d in days],
    )


async def calibration_error(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_ids: Sequence[int] | None,
    action_type: str | None,
    since: dt.date,
    until: dt.date,
) -> tuple[float, float]:
    """The debiased calibration error over the days, and the outcomes it was judged on."""
    stats = await load_stats(
        session,
        organization_id=organization_id,
        action_type=action_type,
        agent_ids=agent_ids,
        since=since,
        until=until,
    )
    if stats.n <= 0:  # no matured outcome in the window: nothing to judge, not an error
        return math.nan, 0.0
    result = debiased_calibration_error(stats)
    return float(result.error), float(result.n)
