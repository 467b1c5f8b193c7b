"""Use cases of analytics: the rep, team and executive dashboards, each for a date range.

Who may read what: people by role (a rep their own agents, a manager their teams, executives
and admins the organisation); API keys need ``read:analytics``; agent keys never read
dashboards. An agent or team out of scope is not found, exactly like an unknown one.
Every dashboard issues a fixed number of set-based statements (see ``repository``), whatever
the number of agents, teams or rows; they are only reads, so the use cases take where reads
get their sessions (`Reads`, e.g. `AppState.reads`: no transaction) and, on PostgreSQL, run
the metric families concurrently on a few connections.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.analytics import repository as repo
from backend.analytics.metrics import REPLY_OUTCOME, Metrics, TrendPoint
from backend.analytics.tally import (
    Tally,
    daily_series,
    merged,
    metrics_of,
    tallies,
    weekly_series,
)
from backend.baselines.models import HumanBaseline
from backend.database import Reads, as_date, read_concurrently, utcnow
from backend.errors import NotFoundError, PermissionDeniedError
from backend.outcomes.rules import OutcomeRules, rules_for
from backend.roi.assumptions import Assumptions, assumptions_in_force
from backend.scope import (
    DateRange,
    agent_in_scope,
    agents_of_team,
    date_range,
    organization_config,
    team_in_scope,
    teams_in_scope,
)
from backend.viewer import Viewer, ViewerRole

DEFAULT_CURRENCY = "USD"
# Not a valid action type name, so it always gets the fallback (unknown type) plan.
UNKNOWN_ACTION_TYPE = "*"
# The metric families `tally.tallies` sums per key.
FAMILIES = (
    "actions",
    "outcomes",
    "deal_counts",
    "deal_amounts",
    "feedback",
    "calibration",
    "redone",
    "labels",
    "people",
)


@dataclass(frozen=True)
class RepDashboard:
    agent_id: int
    range: DateRange
    currency: str
    metrics: Metrics
    daily: tuple[TrendPoint, ...]


@dataclass(frozen=True)
class AgentComparison:
    agent_id: int
    metrics: Metrics


@dataclass(frozen=True)
class TeamDashboard:
    team_id: int
    range: DateRange
    currency: str
    metrics: Metrics
    agents: tuple[AgentComparison, ...]
    daily: tuple[TrendPoint, ...]


@dataclass(frozen=True)
class TeamComparison:
    team_id: int
    metrics: Metrics


@dataclass(frozen=True)
class ExecutiveDashboard:
    organization_id: int
    range: DateRange
    currency: str
    metrics: Metrics
    teams: tuple[TeamComparison, ...]
    weekly: tuple[TrendPoint, ...]


def _require_reader(viewer: Viewer, *roles: ViewerRole) -> None:
    if viewer.role is ViewerRole.AGENT:
        raise PermissionDeniedError("agent keys do not read dashboards")
    viewer.require_scope("read:analytics")
    if roles:
        viewer.require_role(*roles)


def matured_days(rules: OutcomeRules, today: dt.date) -> dict[tuple[str, str], dt.date]:
    """Per (action type, outcome type) of the rules (and of the plans of unknown types, under
    `UNKNOWN_ACTION_TYPE`), the last day whose outcomes have all had their window close."""
    plans = {**rules.plans, UNKNOWN_ACTION_TYPE: rules.plans_for(UNKNOWN_ACTION_TYPE)}
    return {
        (action_type, plan.outcome_type): rules.last_matured_day(plan.window, today)
        for action_type, action_plans in plans.items()
        for plan in action_plans
    }


@dataclass(frozen=True)
class _Loaded:
    replies_matured_until: dt.date  # the reply series' last matured day
    # per action type (`UNKNOWN_ACTION_TYPE` for the others): how long after a day its
    # calibrating outcomes have all matured
    calibration_lag: dict[str, dt.timedelta]
    rows: dict[str, list[Mapping[str, Any]]]
    daily_actions: list[Mapping[str, Any]]
    daily_replies: list[Mapping[str, Any]]
    daily_engagement: list[Mapping[str, Any]]
    baselines: dict[tuple[int, str], HumanBaseline]
    assumptions: Assumptions
    rules: OutcomeRules


async def _load(
    session: AsyncSession,
    reads: Reads,
    viewer: Viewer,
    scope: repo.Scope,
    *,
    team_ids: Iterable[int],
    today: dt.date,
) -> _Loaded:
    """Every metric family of the scope: a fixed number of grouped statements, read
    concurrently (`read_concurrently`)."""
    config = await organization_config(session, viewer.organization_id)
    rules = rules_for(config)
    outcomes_matured = matured_days(rules, today)
    # each action type's calibrating outcome (as `calibration.maturity.assessment_days`)
    calibrating = {
        t: outcomes_matured[(t, rules.calibrating_plan(t).outcome_type)]
        for t in (*rules.plans, UNKNOWN_ACTION_TYPE)
    }
    known = {t: until for t, until in calibrating.items() if t != UNKNOWN_ACTION_TYPE}
    teams = list(team_ids)
    families: dict[str, Callable[[AsyncSession], Awaitable[Any]]] = {
        "calibration": lambda s: repo.calibration_totals(
            s,
            viewer,
            scope,
            matured_until=known,
            default_matured_until=calibrating[UNKNOWN_ACTION_TYPE],
        ),
        # Deal impact in two statements that run side by side: distinct deals per key are
        # the one family whose rows grow with the activity in range.
        "deal_counts": lambda s: repo.deal_counts(s, viewer, scope),
        "deal_amounts": lambda s: repo.deal_amounts(s, viewer, scope),
        "actions": lambda s: repo.action_totals(s, viewer, scope),
        "outcomes": lambda s: repo.outcome_totals(
            s,
            viewer,
            scope,
            # unknown action types: the earliest day of all (the longest window)
            matured_until={k: d for k, d in outcomes_matured.items() if k[0] in rules.plans},
            default_matured_until=min(outcomes_matured.values()),
        ),
        "feedback": lambda s: repo.feedback_totals(s, viewer, scope),
        # the ROI's: work people redid, labels they gave, who works in scope, the assumptions
        "redone": lambda s: repo.redone_actions(s, viewer, scope),
        "labels": lambda s: repo.labels_given(s, viewer, scope),
        "people": lambda s: repo.people(s, viewer, scope),
        "assumptions": lambda s: assumptions_in_force(s, viewer.organization_id, scope.until),
        "daily_actions": lambda s: repo.actions_by_day(s, viewer, scope),
        "daily_replies": lambda s: repo.outcomes_by_day(
            s, viewer, scope, outcome_types=[REPLY_OUTCOME]
        ),
        "daily_engagement": lambda s: repo.engagement_by_day(s, viewer, scope),
        "baselines": lambda s: repo.baselines_in_force(s, viewer, teams, scope.until),
    }
    read = await read_concurrently(session, reads, families)
    return _Loaded(
        calibration_lag={t: today - until for t, until in calibrating.items()},
        replies_matured_until=min(
            (d for (_, o), d in outcomes_matured.items() if o == REPLY_OUTCOME),
            default=min(outcomes_matured.values()),
        ),
        rows={k: read[k] for k in FAMILIES},
        daily_actions=read["daily_actions"],
        daily_replies=read["daily_replies"],
        daily_engagement=read["daily_engagement"],
        baselines=read["baselines"],
        assumptions=read["assumptions"],
        rules=rules,
    )


def _currency(loaded: _Loaded) -> str:
    """The dashboard's currency: the human baselines' when they agree, else the one most
    actions were paid in, else USD. Other currencies are listed apart, never converted."""
    baseline_currencies = {b.currency for b in loaded.baselines.values()}
    if len(baseline_currencies) == 1:
        return baseline_currencies.pop()
    counts: dict[str, int] = defaultdict(int)
    for row in loaded.rows["actions"]:
        counts[row["currency"]] += int(row["actions"] or 0)
    return max(sorted(counts), key=lambda c: counts[c]) if counts else DEFAULT_CURRENCY


def _assemble(
    loaded: _Loaded, team_of: Mapping[int, int], scope: repo.Scope
) -> tuple[str, dict[int, Metrics], Metrics, list[TrendPoint]]:
    """Per-key metrics, the scope's metrics and its daily series (CPU only: run in a thread)."""
    currency = _currency(loaded)
    by_team: dict[int, dict[str, HumanBaseline]] = defaultdict(dict)
    for (team_id, action_type), baseline in loaded.baselines.items():
        by_team[team_id][action_type] = baseline
    per_key = tallies(loaded.rows)
    parts = {key: per_key.get(key, Tally()) for key in team_of}

    def pooled(team_ids: Iterable[int]) -> dict[str, list[HumanBaseline]]:
        out: dict[str, list[HumanBaseline]] = defaultdict(list)
        for team_id in sorted(set(team_ids)):
            for action_type, baseline in by_team.get(team_id, {}).items():
                out[action_type].append(baseline)
        return out

    lags = loaded.calibration_lag

    def matured_by(action_type: str) -> dt.date:
        return scope.until + lags.get(action_type, lags[UNKNOWN_ACTION_TYPE])

    def metrics(tally: Tally, team_ids: Iterable[int]) -> Metrics:
        return metrics_of(
            tally,
            baselines=pooled(team_ids),
            assumptions=loaded.assumptions,
            currency=currency,
            days=(scope.until - scope.since).days + 1,
            rules=loaded.rules,
            matured_by=matured_by,
        )

    each = {key: metrics(part, [team_of[key]]) for key, part in parts.items()}
    total = metrics(merged(parts.values()), team_of.values())
    series = daily_series(
        loaded.daily_actions,
        loaded.daily_replies,
        loaded.daily_engagement,
        since=scope.since,
        until=scope.until,
        replies_matured_until=loaded.replies_matured_until,
        currency=currency,
        as_date=as_date,
    )
    return currency, each, total, series


async def rep_dashboard(
    reads: Reads,
    viewer: Viewer,
    *,
    agent_id: int,
    since: dt.date | None = None,
    until: dt.date | None = None,
    today: dt.date | None = None,
) -> RepDashboard:
    """One agent's dashboard: its owner, their manager, or an organisation-wide reader."""
    _require_reader(viewer)
    today = today or utcnow().date()
    days = date_range(since, until, today=today)
    async with reads() as session:
        agent = await agent_in_scope(session, viewer, agent_id)
        if agent is None:
            raise NotFoundError("agent", field="agentId")
        scope = repo.Scope((agent.id,), days.since, days.until, "agent")
        loaded = await _load(session, reads, viewer, scope, team_ids=[agent.team_id], today=today)
    currency, _, total, series = await asyncio.to_thread(
        _assemble, loaded, {agent.id: agent.team_id}, scope
    )
    return RepDashboard(agent.id, days, currency, total, tuple(series))


async def team_dashboard(
    reads: Reads,
    viewer: Viewer,
    *,
    team_id: int,
    since: dt.date | None = None,
    until: dt.date | None = None,
    today: dt.date | None = None,
) -> TeamDashboard:
    """A team's totals, its agents side by side, and its trend: its managers, executives,
    admins and partners."""
    _require_reader(
        viewer, ViewerRole.MANAGER, ViewerRole.EXECUTIVE, ViewerRole.ADMIN, ViewerRole.PARTNER
    )
    today = today or utcnow().date()
    days = date_range(since, until, today=today)
    async with reads() as session:
        team = await team_in_scope(session, viewer, team_id)
        if team is None:
            raise NotFoundError("team", field="teamId")
        agents = await agents_of_team(session, viewer, team.id)
        scope = repo.Scope(tuple(a.id for a in agents), days.since, days.until, "agent")
        loaded = await _load(session, reads, viewer, scope, team_ids=[team.id], today=today)
    currency, each, total, series = await asyncio.to_thread(
        _assemble, loaded, {a.id: team.id for a in agents}, scope
    )
    rows = tuple(AgentComparison(a.id, each[a.id]) for a in agents)
    return TeamDashboard(team.id, days, currency, total, rows, tuple(series))


async def executive_dashboard(
    reads: Reads,
    viewer: Viewer,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    today: dt.date | None = None,
) -> ExecutiveDashboard:
    """The organisation's totals, ROI against the human baseline, its teams side by side and
    its weekly trend: executives, admins and partners."""
    _require_reader(viewer, ViewerRole.EXECUTIVE, ViewerRole.ADMIN, ViewerRole.PARTNER)
    today = today or utcnow().date()
    days = date_range(since, until, today=today)
    async with reads() as session:
        teams = await teams_in_scope(session, viewer)
        scope = repo.Scope(None, days.since, days.until, "team")
        loaded = await _load(
            session, reads, viewer, scope, team_ids=[t.id for t in teams], today=today
        )
    currency, each, total, series = await asyncio.to_thread(
        _assemble, loaded, {t.id: t.id for t in teams}, scope
    )
    rows = tuple(TeamComparison(t.id, each[t.id]) for t in teams)
    weekly = tuple(weekly_series(series))
    return ExecutiveDashboard(viewer.organization_id, days, currency, total, rows, weekly)
