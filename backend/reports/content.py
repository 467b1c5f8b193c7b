"""What each periodic report shows, gathered as its recipient: the same service calls the
GraphQL resolvers make (dashboards, calibration, policy history, alerts, coaching, strategy,
the labelling queue, prompts) with the recipient's own `Viewer`, so a report holds exactly what
the API answers that person for the same scope and days, and nothing outside their scope.

Like `backend.strategy`, this module only composes other domains' read sides; it writes nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.roi import RateComparison, RateEstimate, compare_rates
from backend.agents.models import Agent
from backend.alerts import service as alerts
from backend.alerts.models import Alert, AlertState, Severity
from backend.analytics import service as analytics
from backend.analytics.metrics import Metrics
from backend.calibration.maturity import matured_until
from backend.calibration.repository import CalibrationReport, calibration_report
from backend.coaching import service as coaching
from backend.coaching.models import CoachingInsight, InsightStatus
from backend.database import Reads
from backend.errors import DomainError, ErrorCode, NotFoundError
from backend.orgs.models import Organization, Team
from backend.outcomes.repository import OutcomeRow, label_queue_page
from backend.pagination import MAX_PAGE
from backend.policy.models import AgentPolicy, PolicyChange
from backend.policy.repository import policy_history
from backend.prompts import service as prompts
from backend.prompts.models import FeedbackPrompt, PromptState
from backend.reports.models import ReportKind
from backend.reports.rendered import Period
from backend.scope import agent_in_scope, agents_of_team, organization_config, team_in_scope
from backend.strategy.service import StrategicView, strategic_view
from backend.viewer import Viewer, ViewerRole, scoped

TREND_DAYS = 28  # a manager's daily trend: the last four weeks, the period's day last
CALIBRATION_DAYS = 28  # calibration health is judged on the last four weeks
TOP_COACHING = 3
LISTED = 5  # alerts, queue items and prompts listed by name; the rest are counted
OPEN_ALERT_STATES = [AlertState.FIRING, AlertState.ACKNOWLEDGED]
NOTABLE_SEVERITIES = {Severity.CRITICAL.value, Severity.WARNING.value}


# -- the parts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A figure this period against the previous one. Rates carry the difference's 95%
    interval (Newcombe 1998, `analytics_engine.roi.compare_rates`: current - previous)."""

    name: str
    current: float
    previous: float
    rate: RateComparison | None = None  # for rates: agent = current, human = previous
    maturing: int = 0  # the current period's outcomes still inside their window: not counted

    @property
    def difference(self) -> float:
        return self.current - self.previous

    @property
    def significant(self) -> bool:
        """Whether the difference's interval excludes 0 (rates only)."""
        r = self.rate
        return (
            r is not None
            and math.isfinite(r.difference_lower)
            and (r.difference_lower > 0 or r.difference_upper < 0)
        )


def rate_change(
    name: str, current: RateEstimate, previous: RateEstimate, *, maturing: int = 0
) -> Change:
    """Two periods' rates compared (NaN rates when a period has no trials)."""
    comparison = compare_rates(current.successes, current.count, previous.successes, previous.count)
    return Change(name, current.rate, previous.rate, comparison, maturing)


def week_over_week(current: Metrics, previous: Metrics) -> tuple[Change, ...]:
    """The key figures of two weeks side by side; rates with their difference's interval."""
    c, p = current, previous
    return (
        Change("Actions", c.interactions, p.interactions),
        rate_change(
            "Reply rate",
            c.responses.replies,
            p.responses.replies,
            maturing=c.responses.maturing_replies,
        ),
        rate_change(
            "Meeting attendance",
            c.responses.attendance,
            p.responses.attendance,
            maturing=c.responses.maturing_attendance,
        ),
        rate_change("Escalation rate", c.escalations.rate, p.escalations.rate),
        rate_change("Deal win rate", c.deal_impact.win_rate, p.deal_impact.win_rate),
        Change("Cost", c.costs.total.total.amount, p.costs.total.total.amount),
        Change("Hours saved", c.roi.range.expected.hours_saved, p.roi.range.expected.hours_saved),
    )


@dataclass(frozen=True)
class AlertItem:
    id: int
    severity: str
    state: str
    message: str
    fired_at: dt.datetime
    team_id: int | None
    agent_id: int | None

    @classmethod
    def of(cls, a: Alert) -> AlertItem:
        return cls(a.id, a.severity, a.state, a.message, a.fired_at, a.team_id, a.agent_id)


@dataclass(frozen=True)
class Alerts:
    opened: tuple[AlertItem, ...]  # fired during the period, newest first
    open: tuple[AlertItem, ...]  # firing or acknowledged now, newest first (at most LISTED)
    open_count: int


@dataclass(frozen=True)
class PolicyChangeItem:
    agent_id: int
    action_type: str
    version: int
    escalate_from: float | None
    escalate_to: float
    autonomous_from: float | None
    autonomous_to: float
    reason: str
    changed_by: str
    at: dt.datetime


@dataclass(frozen=True)
class CoachingItem:
    id: int
    statement: str
    advice: str
    audience: str
    difference: float
    ci_low: float
    ci_high: float
    support: int
    q_value: float


@dataclass(frozen=True)
class Queue:
    """A work list: how many items wait, and the oldest few."""

    total: int
    oldest: tuple[dt.datetime, ...]


@dataclass(frozen=True)
class CalibrationHealth:
    """One action type over `CALIBRATION_DAYS` days ending on its last matured day (by the
    report's day): what `calibration(actionType, from, to)` answers for them (verdict, errors,
    reliability bins with intervals)."""

    action_type: str
    since: dt.date
    until: dt.date
    report: CalibrationReport


@dataclass(frozen=True)
class ManagerDaily:
    kind = ReportKind.MANAGER_DAILY
    period: Period
    team_id: int
    team_name: str
    agent_names: dict[int, str]
    day: analytics.TeamDashboard  # the period's day: the team and its agents side by side
    trend: analytics.TeamDashboard  # the last TREND_DAYS days, the period's day last
    calibration: tuple[CalibrationHealth, ...]
    policy_changes: tuple[PolicyChangeItem, ...]  # made during the period
    alerts: Alerts
    coaching: tuple[CoachingItem, ...]  # the top new insights
    coaching_new: int
    label_queue: Queue
    prompts: Queue  # unanswered prompts about the viewer's teams' agents


@dataclass(frozen=True)
class ExecutiveWeekly:
    kind = ReportKind.EXECUTIVE_WEEKLY
    period: Period
    previous: Period
    organization_name: str
    team_names: dict[int, str]
    week: analytics.ExecutiveDashboard
    previous_week: analytics.ExecutiveDashboard
    changes: tuple[Change, ...]
    strategy: StrategicView
    calibration: tuple[CalibrationHealth, ...]
    alerts: Alerts  # notable: warning and critical alerts opened in the week


@dataclass(frozen=True)
class RepWeekly:
    kind = ReportKind.REP_WEEKLY
    period: Period
    previous: Period
    agent_id: int
    agent_name: str
    week: analytics.RepDashboard
    previous_week: analytics.RepDashboard
    # the last TREND_DAYS days: success against the human baseline needs matured outcomes,
    # which the week itself has few of (a reply is decided within 7 days, a deal within 30)
    recent: analytics.RepDashboard
    changes: tuple[Change, ...]
    alerts: Alerts
    prompts: Queue  # prompts waiting for the recipient


ReportContent = ManagerDaily | ExecutiveWeekly | RepWeekly


# -- reading -----------------------------------------------------------------------------------


def _bounds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(period.start, dt.time(), tzinfo=dt.UTC)
    return start, dt.datetime.combine(period.end, dt.time(), tzinfo=dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


async def _alerts(
    session: AsyncSession,
    viewer: Viewer,
    period: Period,
    *,
    about: Callable[[Alert], bool] = lambda a: True,
) -> Alerts:
    """The alerts the viewer sees (`alerts_page`, as the `alerts` query) that are ``about``
    what the report covers: those fired in the period and those still open."""
    start, end = _bounds(period)
    wanted = about

    opened: list[AlertItem] = []
    after: str | None = None
    while True:
        page = await alerts.alerts_page(session, viewer, first=MAX_PAGE, after=after)
        for index, a in enumerate(page.items):
            fired = _aware(a.fired_at)
            if start <= fired < end and wanted(a):
                opened.append(AlertItem.of(a))
            after = page.cursor(index)
        if not page.has_next or (page.items and _aware(page.items[-1].fired_at) < start):
            break
    still: list[AlertItem] = []
    after = None
    while True:
        page = await alerts.alerts_page(
            session, viewer, states=OPEN_ALERT_STATES, first=MAX_PAGE, after=after
        )
        still.extend(AlertItem.of(a) for a in page.items if wanted(a))
        if not page.has_next:
            break
        after = page.cursor(len(page.items) - 1)
    return Alerts(tuple(opened), tuple(still[:LISTED]), len(still))


async def _calibration(
    session: AsyncSession,
    viewer: Viewer,
    action_types: list[str],
    *,
    team_id: int | None,
    until: dt.date,
    today: dt.date,
) -> tuple[CalibrationHealth, ...]:
    config = await organization_config(session, viewer.organization_id)
    out = []
    for action_type in action_types:
        # Judged on matured days only, as the dashboards' verdicts: outcomes decided early
        # (a reply at once, no reply only when its window closes) would lean to success.
        end = min(until, matured_until(config, action_type, today))
        since = end - dt.timedelta(days=CALIBRATION_DAYS - 1)
        report = await calibration_report(
            session,
            viewer,
            action_type=action_type,
            team_id=team_id,
            since=since,
            until=end,
            today=today,
        )
        out.append(CalibrationHealth(action_type, since, end, report))
    return tuple(out)


def _action_types(*metrics: Metrics) -> list[str]:
    found = set()
    for m in metrics:
        found |= {a.action_type for a in m.actions_by_type}
        found |= {c.action_type for c in m.calibration}
    return sorted(found)


async def _policy_changes(
    session: AsyncSession, viewer: Viewer, agent_ids: list[int], period: Period
) -> tuple[PolicyChangeItem, ...]:
    """Each policy's changes during the period, through `policy_history` (as the
    `policyHistory` query), newest first."""
    start, end = _bounds(period)
    policies = (
        await session.execute(
            scoped(select(AgentPolicy.agent_id, AgentPolicy.action_type), AgentPolicy, viewer)
            .where(AgentPolicy.agent_id.in_(agent_ids))
            .order_by(AgentPolicy.agent_id, AgentPolicy.action_type)
        )
    ).all()
    found: list[PolicyChange] = []
    for agent_id, action_type in policies:
        after: str | None = None
        while True:
            page = await policy_history(
                session,
                viewer,
                action_type=action_type,
                agent_id=agent_id,
                first=MAX_PAGE,
                after=after,
            )
            found.extend(c for c in page.items if start <= _aware(c.created_at) < end)
            if not page.has_next or _aware(page.items[-1].created_at) < start:
                break
            after = page.cursor(len(page.items) - 1)
    found.sort(key=lambda c: (_aware(c.created_at), c.id), reverse=True)
    return tuple(
        PolicyChangeItem(
            agent_id=c.agent_id,
            action_type=c.action_type,
            version=c.version,
            escalate_from=c.previous_escalate_below,
            escalate_to=c.escalate_below,
            autonomous_from=c.previous_autonomous_above,
            autonomous_to=c.autonomous_above,
            reason=c.reason,
            changed_by=c.changed_by,
            at=_aware(c.created_at),
        )
        for c in found
    )


def top_coaching(insights: list[CoachingInsight], n: int = TOP_COACHING) -> list[CoachingItem]:
    """The strongest new insights: surest first (q-value), then the largest effect."""
    ranked = sorted(insights, key=lambda i: (i.q_value, -abs(i.difference), i.id))
    return [
        CoachingItem(
            i.id,
            i.statement,
            i.advice,
            i.audience,
            i.difference,
            i.ci_low,
            i.ci_high,
            i.support,
            i.q_value,
        )
        for i in ranked[:n]
    ]


async def _coaching(
    session: AsyncSession, viewer: Viewer, team_id: int
) -> tuple[list[CoachingItem], int]:
    new: list[CoachingInsight] = []
    after: str | None = None
    while True:
        page = await coaching.insights_page(
            session, viewer, team_id=team_id, status=InsightStatus.NEW, first=MAX_PAGE, after=after
        )
        new.extend(page.items)
        if not page.has_next:
            break
        after = page.cursor(len(page.items) - 1)
    return top_coaching(new), len(new)


async def _label_queue(session: AsyncSession, viewer: Viewer) -> Queue:
    page = await label_queue_page(session, viewer, first=LISTED, after=None, count=True)
    rows: list[OutcomeRow] = page.items
    return Queue(page.total or 0, tuple(_aware(r.opened_at) for r in rows))


async def _prompts(session: AsyncSession, viewer: Viewer, *, user_id: int | None) -> Queue:
    page = await prompts.prompts_page(
        session, viewer, state=PromptState.OPEN, user_id=user_id, first=LISTED
    )
    items: list[FeedbackPrompt] = page.items
    return Queue(page.total or 0, tuple(_aware(p.created_at) for p in items))


def _previous_week(period: Period) -> Period:
    return Period(period.start - dt.timedelta(days=7), period.start)


def _require_person(viewer: Viewer) -> None:
    if viewer.user_id is None or viewer.api_client_id is not None:
        raise DomainError(ErrorCode.FORBIDDEN, "reports are for people")


async def manager_daily(
    reads: Reads, viewer: Viewer, *, team_id: int, period: Period, today: dt.date
) -> ManagerDaily:
    """A team's day (the period's last day) and its last four weeks, as its manager sees
    them. A team the viewer does not manage is not found, as in the API."""
    _require_person(viewer)
    day = period.last_day
    since = day - dt.timedelta(days=TREND_DAYS - 1)
    async with reads() as session:
        team = await team_in_scope(session, viewer, team_id)
        if team is None or viewer.role is ViewerRole.REP:
            raise NotFoundError("team", field="teamId")
        agents = await agents_of_team(session, viewer, team.id)
    today_board = await analytics.team_dashboard(
        reads, viewer, team_id=team.id, since=period.start, until=day, today=today
    )
    trend = await analytics.team_dashboard(
        reads, viewer, team_id=team.id, since=since, until=day, today=today
    )
    agent_ids = [a.id for a in agents]
    async with reads() as session:
        calibration = await _calibration(
            session,
            viewer,
            _action_types(trend.metrics),
            team_id=team.id,
            until=day,
            today=today,
        )
        changes = await _policy_changes(session, viewer, agent_ids, period)
        found = await _alerts(
            session,
            viewer,
            period,
            about=lambda a: a.team_id == team.id or a.agent_id in agent_ids,
        )
        top, new = await _coaching(session, viewer, team.id)
        queue = await _label_queue(session, viewer)
        waiting = await _prompts(session, viewer, user_id=None)
    return ManagerDaily(
        period=period,
        team_id=team.id,
        team_name=team.name,
        agent_names={a.id: a.name for a in agents},
        day=today_board,
        trend=trend,
        calibration=calibration,
        policy_changes=changes,
        alerts=found,
        coaching=tuple(top),
        coaching_new=new,
        label_queue=queue,
        prompts=waiting,
    )


async def executive_weekly(
    reads: Reads, viewer: Viewer, *, period: Period, today: dt.date
) -> ExecutiveWeekly:
    """The organisation's week against the week before, the strategic view of the week, the
    calibration of the last four weeks and the notable alerts."""
    _require_person(viewer)
    previous = _previous_week(period)
    week = await analytics.executive_dashboard(
        reads, viewer, since=period.start, until=period.last_day, today=today
    )
    before = await analytics.executive_dashboard(
        reads, viewer, since=previous.start, until=previous.last_day, today=today
    )
    strategy = await strategic_view(
        reads, viewer, since=period.start, until=period.last_day, today=today
    )
    async with reads() as session:
        organization = await session.get(Organization, viewer.organization_id)
        teams = await session.scalars(
            scoped(select(Team), Team, viewer).order_by(Team.name, Team.id)
        )
        team_names = {t.id: t.name for t in teams}
        calibration = await _calibration(
            session,
            viewer,
            _action_types(week.metrics, before.metrics),
            team_id=None,
            until=period.last_day,
            today=today,
        )
        found = await _alerts(
            session, viewer, period, about=lambda a: a.severity in NOTABLE_SEVERITIES
        )
    return ExecutiveWeekly(
        period=period,
        previous=previous,
        organization_name=organization.name if organization is not None else "",
        team_names=team_names,
        week=week,
        previous_week=before,
        changes=week_over_week(week.metrics, before.metrics),
        strategy=strategy,
        calibration=calibration,
        alerts=found,
    )


async def own_agent(session: AsyncSession, viewer: Viewer, agent_id: int | None) -> Agent:
    """The agent a rep's digest is about: the one named (in scope), else their only agent."""
    if agent_id is None:
        owned = sorted(viewer.agent_ids or ())
        if viewer.agent_ids is None or len(owned) != 1:
            raise DomainError(ErrorCode.REQUIRED, "name the agent", field="agentId")
        agent_id = owned[0]
    agent = await agent_in_scope(session, viewer, agent_id)
    if agent is None:
        raise NotFoundError("agent", field="agentId")
    return agent


async def rep_weekly(
    reads: Reads, viewer: Viewer, *, agent_id: int | None, period: Period, today: dt.date
) -> RepWeekly:
    """A rep's agent's week against the week before, its alerts and the prompts waiting for
    the rep."""
    _require_person(viewer)
    previous = _previous_week(period)
    async with reads() as session:
        agent = await own_agent(session, viewer, agent_id)
    week = await analytics.rep_dashboard(
        reads, viewer, agent_id=agent.id, since=period.start, until=period.last_day, today=today
    )
    before = await analytics.rep_dashboard(
        reads, viewer, agent_id=agent.id, since=previous.start, until=previous.last_day, today=today
    )
    recent = await analytics.rep_dashboard(
        reads,
        viewer,
        agent_id=agent.id,
        since=period.last_day - dt.timedelta(days=TREND_DAYS - 1),
        until=period.last_day,
        today=today,
    )
    async with reads() as session:
        found = await _alerts(session, viewer, period, about=lambda a: a.agent_id == agent.id)
        waiting = await _prompts(session, viewer, user_id=viewer.user_id)
    return RepWeekly(
        period=period,
        previous=previous,
        agent_id=agent.id,
        agent_name=agent.name,
        week=week,
        previous_week=before,
        recent=recent,
        changes=week_over_week(week.metrics, before.metrics),
        alerts=found,
        prompts=waiting,
    )


async def report_content(
    reads: Reads,
    viewer: Viewer,
    *,
    kind: ReportKind | str,
    period: Period,
    today: dt.date,
    team_id: int | None = None,
    agent_id: int | None = None,
) -> ReportContent:
    """The content of one report of ``kind`` for ``viewer``."""
    match ReportKind(kind):
        case ReportKind.MANAGER_DAILY:
            if team_id is None:
                raise DomainError(ErrorCode.REQUIRED, "name the team", field="teamId")
            return await manager_daily(reads, viewer, team_id=team_id, period=period, today=today)
        case ReportKind.EXECUTIVE_WEEKLY:
            return await executive_weekly(reads, viewer, period=period, today=today)
        case ReportKind.REP_WEEKLY:
            return await rep_weekly(reads, viewer, agent_id=agent_id, period=period, today=today)
