"""The effect of acting on an insight: the team's outcome on the actions taken after the
manager acted, against the insight's own period (a before/after comparison with its interval,
not a controlled experiment), and how often the actions then had the advised feature value."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.coaching import compare_samples
from backend.coaching.features import FEATURES, ActionRow
from backend.coaching.models import CoachingInsight
from backend.coaching.samples import Period, decided_actions

# Fewer decided outcomes after acting than this give no follow-up yet (the interval would say
# little), and the insight shows "not measured yet".
MIN_FOLLOW_UP = 20


def _share(rows: Sequence[ActionRow], feature: str, value: str) -> float:
    read = FEATURES[feature]
    return float(np.mean([read(r) == value for r in rows]))


async def measure_follow_up(
    session: AsyncSession,
    insight: CoachingInsight,
    *,
    agent_ids: Sequence[int],
    last_matured_day: dt.date,
    now: dt.datetime,
) -> bool:
    """Measure (again) the follow-up of an acted-on ``insight`` on the actions from the day
    after it was acted on to ``last_matured_day``; False while there are too few of them."""
    if insight.decided_at is None:
        return False
    after = Period(
        insight.decided_at.astimezone(dt.UTC).date() + dt.timedelta(days=1), last_matured_day
    )
    if after.end < after.start:
        return False
    before = Period(insight.period_start, insight.period_end)
    rows_after = await decided_actions(
        session,
        organization_id=insight.organization_id,
        agent_ids=agent_ids,
        outcome_type=insight.outcome_type,
        period=after,
    )
    rows_before = await decided_actions(
        session,
        organization_id=insight.organization_id,
        agent_ids=agent_ids,
        outcome_type=insight.outcome_type,
        period=before,
    )
    if len(rows_after) < MIN_FOLLOW_UP or len(rows_before) < 2:
        return False
    comparison = await asyncio.to_thread(
        compare_samples, [r.outcome for r in rows_after], [r.outcome for r in rows_before]
    )
    insight.follow_up_n = comparison.n
    insight.follow_up_rate = comparison.rate
    insight.follow_up_before_rate = comparison.baseline_rate
    insight.follow_up_difference = comparison.difference
    insight.follow_up_ci_low, insight.follow_up_ci_high = comparison.ci
    insight.follow_up_p_value = comparison.p_value
    insight.follow_up_share = _share(rows_after, insight.feature, insight.feature_value)
    insight.follow_up_before_share = _share(rows_before, insight.feature, insight.feature_value)
    insight.follow_up_period_end = after.end
    insight.follow_up_measured_at = now
    return True
