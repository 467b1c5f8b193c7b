"""What a rule's metric reads over its subject: daily series from the daily rollups, and the
threshold-only measurements (cost per interaction, feedback score from their rollups; the
labelling queue's age and the unanswered prompts at the moment of judging). One grouped
statement each; what is read grows with the days asked for (or the queue's length), never
with the history.

Outcome rates count only matured days (every window of the day's actions has closed): a day
still maturing leans towards success, since "no reply" is only decided when the window ends.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.calibration import debiased_calibration_error
from backend.actions.models import ActionStat, AgentAction
from backend.alerts.metrics import Metric
from backend.calibration.maturity import assessment_days
from backend.calibration.rollup import load_stats
from backend.feedback.models import FeedbackStat, FeedbackTarget
from backend.outcomes.models import Outcome, OutcomeStat, OutcomeStatus
from backend.outcomes.rules import rules_for
from backend.prompts.models import FeedbackPrompt, PromptState
from backend.signals.models import Signal


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


@dataclass(frozen=True)
class Measurement:
    """A threshold-only metric's value, what it pooled, and where it was measured."""

    value: float  # NaN: nothing to judge
    n: int  # the units behind it: actions, ratings, outcomes waiting, prompts due
    counted: bool  # a mean over ``n`` units (judged from enough of them), not a count or an age
    span: str  # for the message: "over 7 days to 2026-11-01", "at 2026-11-02 15:30 UTC"
    units: str  # for the message: "140 actions", "3 outcomes waiting"
    evidence: dict[str, Any]  # the window (or ``at``) and the ids to open next
    currency: str | None = None  # money metrics: the currency of the value


def _days_span(since: dt.date, until: dt.date) -> tuple[str, dict[str, Any]]:
    days = (until - since).days + 1
    window = {"from": since.isoformat(), "to": until.isoformat()}
    return f"over {days} days to {until}", {"window": window}


def _moment(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _agents(statement: Any, column: Any, agent_ids: Sequence[int] | None) -> Any:
    return statement if agent_ids is None else statement.where(column.in_(sorted(agent_ids)))


async def measure(
    session: AsyncSession,
    metric: Metric,
    *,
    organization_id: int,
    agent_ids: Sequence[int] | None,
    action_type: str | None,
    window_days: int,
    today: dt.date,
    now: dt.datetime,
) -> Measurement:
    """The threshold-only metric (``costs``, ``feedback``, ``label_queue``, ``prompts``) of the
    subject: pooled over the ``window_days`` days to yesterday, or measured at ``now``."""
    org, agents = organization_id, agent_ids
    if metric.source in ("costs", "feedback"):
        until = last_judged_day(metric, action_type, None, today)
        since = until - dt.timedelta(days=window_days - 1)
        if metric.source == "costs":
            return await cost_per_action(
                session,
                organization_id=org,
                agent_ids=agents,
                action_type=action_type,
                since=since,
                until=until,
            )
        return await feedback_score(
            session, organization_id=org, agent_ids=agents, since=since, until=until
        )
    if metric.source == "label_queue":
        return await label_queue_age(
            session, organization_id=org, agent_ids=agents, action_type=action_type, now=now
        )
    if metric.source == "prompts":
        return await unanswered_prompts(
            session,
            organization_id=org,
            agent_ids=agents,
            action_type=action_type,
            since=now - dt.timedelta(days=window_days),
            until=now,
        )
    raise ValueError(f"{metric.name} is not measured at a moment; it has daily counts")


async def cost_per_action(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_ids: Sequence[int] | None,
    action_type: str | None,
    since: dt.date,
    until: dt.date,
) -> Measurement:
    """Cost over actions in ``action_stats``, per cost currency; the value is that of the
    currency most actions were paid in (as the dashboards choose theirs: costs in different
    currencies are never added), the others are kept in the evidence."""
    a = ActionStat
    statement = (
        select(a.currency, func.sum(a.actions), func.sum(a.cost))
        .where(a.organization_id == organization_id, a.day >= since, a.day <= until)
        .group_by(a.currency)
    )
    if action_type is not None:
        statement = statement.where(a.action_type == action_type)
    rows = sorted(
        (str(c), int(n or 0), float(cost or 0))
        for c, n, cost in await session.execute(_agents(statement, a.agent_id, agent_ids))
    )
    span, evidence = _days_span(since, until)
    paid = [r for r in rows if r[1] > 0]
    if not paid:
        return Measurement(math.nan, 0, True, span, "0 actions", evidence)
    currency, actions, cost = max(paid, key=lambda r: r[1])  # first by name on a tie
    others = [
        {"currency": c, "actions": n, "cost": round(x, 6)} for c, n, x in paid if c != currency
    ]
    return Measurement(
        cost / actions,
        actions,
        True,
        span,
        f"{actions} actions",
        {**evidence, "currency": currency, "cost": round(cost, 6), "otherCurrencies": others},
        currency=currency,
    )


async def feedback_score(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_ids: Sequence[int] | None,
    since: dt.date,
    until: dt.date,
) -> Measurement:
    """The mean rating on [0, 1] of the ratings first given on the days (``feedback_stats``):
    thumbs count 0 or 1, ratings of 1..5 count (r - 1) / 4, as the dashboards score them."""
    f = FeedbackStat
    thumbs = f.target_type == FeedbackTarget.MESSAGE.value
    score = case((thumbs, cast(f.rating_sum, Float)), else_=cast(f.rating_sum - f.count, Float) / 4)
    statement = (
        select(f.target_type, func.sum(f.count), func.sum(score))
        .where(f.organization_id == organization_id, f.day >= since, f.day <= until)
        .group_by(f.target_type)
    )
    rows = [
        (str(t), int(n or 0), float(s or 0))
        for t, n, s in await session.execute(_agents(statement, f.agent_id, agent_ids))
    ]
    count, total = sum(r[1] for r in rows), sum(r[2] for r in rows)
    span, evidence = _days_span(since, until)
    by_target = {t: {"n": n, "score": round(s / n, 6)} for t, n, s in sorted(rows) if n}
    return Measurement(
        total / count if count else math.nan,
        count,
        True,
        span,
        f"{count} ratings",
        {**evidence, "byTarget": by_target},
    )


async def label_queue_age(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_ids: Sequence[int] | None,
    action_type: str | None,
    now: dt.datetime,
) -> Measurement:
    """How long the longest-waiting outcome in the labelling queue (``needs_label``) has waited
    at ``now``, in hours: since the signal that needs a person arrived, else since its window
    ended (its due time), else since it opened; 0 with nothing waiting.

    The oldest row and the queue's length in one statement (a window count); its cost is the
    queue's length in the scope: the organisation's reads the ``(status, due_at)`` index, a
    team's or an agent's ``(organization_id, agent_id, status)``."""
    o = Outcome
    since = func.coalesce(Signal.received_at, o.due_at, o.opened_at)
    statement = (
        select(o.id, o.agent_id, since.label("since"), func.count().over())
        .select_from(o)
        .outerjoin(Signal, Signal.id == o.signal_id)
        .where(o.organization_id == organization_id, o.status == OutcomeStatus.NEEDS_LABEL.value)
        .order_by(since, o.id)
        .limit(1)
    )
    if action_type is not None:
        statement = statement.where(o.action_type == action_type)
    row = (await session.execute(_agents(statement, o.agent_id, agent_ids))).first()
    span, evidence = f"at {_moment(now)}", {"at": now.isoformat()}
    if row is None:
        return Measurement(0.0, 0, False, span, "none waiting", evidence)
    outcome_id, agent_id, waiting_since, waiting = row
    hours = max((now - waiting_since).total_seconds() / 3600, 0.0)
    return Measurement(
        hours,
        int(waiting),
        False,
        span,
        f"{int(waiting)} waiting; the oldest is outcome {outcome_id}",
        {
            **evidence,
            "outcomeId": int(outcome_id),
            "agentId": int(agent_id),
            "waitingSince": waiting_since.isoformat(),
        },
    )


async def unanswered_prompts(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_ids: Sequence[int] | None,
    action_type: str | None,
    since: dt.datetime,
    until: dt.datetime,
) -> Measurement:
    """The feedback prompts whose answer was due (``expires_at``) in (since, until] and that
    were not answered (expired, or still open past their due time), out of all due then."""
    p = FeedbackPrompt
    unanswered = p.state != PromptState.ANSWERED.value
    statement = select(
        func.count(),
        func.coalesce(func.sum(case((unanswered, 1), else_=0)), 0),
        func.max(case((unanswered, p.id), else_=None)),
    ).where(
        p.organization_id == organization_id,
        # every state, named so that the (state, expires_at) index bounds the read by the window
        p.state.in_([s.value for s in PromptState]),
        p.expires_at > since,
        p.expires_at <= until,
    )
    if action_type is not None:
        statement = statement.join(AgentAction, AgentAction.id == p.action_id).where(
            AgentAction.action_type == action_type
        )
    due, missed, latest = (await session.execute(_agents(statement, p.agent_id, agent_ids))).one()
    days = round((until - since) / dt.timedelta(days=1), 2)
    evidence: dict[str, Any] = {
        "window": {"from": since.isoformat(), "to": until.isoformat()},
        "at": until.isoformat(),
        "due": int(due),
        "answered": int(due) - int(missed),
    }
    if latest is not None:
        evidence["promptId"] = int(latest)  # the latest one left unanswered
    return Measurement(
        float(missed),
        int(due),
        False,
        f"in the {days:g} days to {_moment(until)}",
        f"{int(missed)} of {int(due)} prompts due",
        evidence,
    )
