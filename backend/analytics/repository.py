"""Set-based aggregates behind the dashboards, read from the daily rollups.

Each metric family is ONE grouped statement over one daily rollup (actions, outcomes, ratings,
deal activity, calibration: each kept by its own domain in the unit of work that changes what
it sums) for every agent (or team) in scope at once, keyed by agent or by team
(``Scope.key``). So the number of statements a dashboard issues does not grow with its agents,
teams or rows, and what each reads grows with the days of its range, not with the history
behind them. Days are UTC days: the day an action was taken (its outcomes count there too), a
rating first given, a deal signal occurred.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import (
    Select,
    and_,
    case,
    distinct,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.calibration import STAT_FIELDS
from backend.actions.models import ActionStat
from backend.actions.rollup import SUMS as ACTION_SUMS
from backend.agents.models import Agent
from backend.baselines.models import HumanBaseline
from backend.calibration.models import CalibrationStat, CalibrationTeamStat
from backend.crm.models import Deal
from backend.feedback.models import FeedbackStat, ReworkStat
from backend.feedback.rollup import SUMS as FEEDBACK_SUMS
from backend.outcomes.models import OutcomeLabel, OutcomeStat
from backend.outcomes.rollup import SUMS as OUTCOME_SUMS
from backend.signals.engagement_rollup import SUMS as ENGAGEMENT_SUMS
from backend.signals.models import DealActivity, EmailEngagement
from backend.signals.rollup import SUMS as DEAL_SUMS
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


def _flag(condition: Any) -> Any:
    return case((condition, 1), else_=0)


# How many statements each family keeps built (per viewer, scope and maturity dates).
STATEMENTS_KEPT = 32
_Build = TypeVar("_Build", bound=Callable[..., Select])


def _kept(build: _Build) -> _Build:
    """A family's statement built once per distinct arguments (the viewer, the scope and, for
    some, the maturity dates: all hashable) and reused: a statement is immutable, and SQLAlchemy
    keeps its cache key on it, so a dashboard read again (a refresh, the next viewer of the same
    scope and range) builds nothing. Its values are literal in the statement, never shared
    between different arguments."""
    return cast(_Build, lru_cache(maxsize=STATEMENTS_KEPT)(build))


async def _rows(session: AsyncSession, statement: Select) -> list[Mapping[str, Any]]:
    # Core execution on the session's connection: these are sums, not entities, so the ORM's
    # per-statement machinery (compile state, identity map, events) would be pure cost.
    connection = await session.connection()
    rows = (await connection.execute(statement)).mappings().all()
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


# -- metric families: one grouped statement each over a daily rollup --------------------------


def _days(statement: Select, model: Any, scope: Scope) -> Select:
    return statement.where(model.day >= scope.since, model.day <= scope.until)


@_kept
def _action_totals(viewer: Viewer, scope: Scope) -> Select:
    a = ActionStat
    statement = _days(
        _keyed(
            viewer,
            scope,
            a,
            a.action_type,
            a.currency,
            *(func.sum(getattr(a, n)).label(n) for n in ACTION_SUMS),
        ),
        a,
        scope,
    )
    key = statement.selected_columns["key"]
    return statement.group_by(key, a.action_type, a.currency)


async def action_totals(
    session: AsyncSession, viewer: Viewer, scope: Scope
) -> list[Mapping[str, Any]]:
    """Per key, action type and cost currency: actions, escalations, critical, cost, tokens."""
    return await _rows(session, _action_totals(viewer, scope))


@_kept
def _actions_by_day(viewer: Viewer, scope: Scope) -> Select:
    a = ActionStat
    statement = _days(
        _in_scope(
            select(
                a.day,
                a.currency,
                *(func.sum(getattr(a, n)).label(n) for n in ACTION_SUMS if n != "critical"),
            ),
            viewer,
            scope,
            a,
        ),
        a,
        scope,
    )
    return statement.group_by(a.day, a.currency)


async def actions_by_day(
    session: AsyncSession, viewer: Viewer, scope: Scope
) -> list[Mapping[str, Any]]:
    """Per day and cost currency, over the whole scope: actions, escalations, cost, tokens."""
    return await _rows(session, _actions_by_day(viewer, scope))


Matured = tuple[tuple[Any, dt.date], ...]  # (action type [, outcome type]) -> last matured day


def _matured(model: Any, matured_until: Matured, default: dt.date) -> Any:
    """Whether a row's day has matured for its (action type, outcome type): every outcome of
    that day has had its window close (``matured_until``; ``default`` for other pairs)."""
    pairs = [(model.action_type == t, model.outcome_type == o) for (t, o), _ in matured_until]
    listed = or_(*(and_(*pair) for pair in pairs)) if pairs else false()
    return or_(
        *(
            and_(*pair, model.day <= until)
            for pair, (_, until) in zip(pairs, matured_until, strict=True)
        ),
        and_(not_(listed), model.day <= default),
    )


@_kept
def _outcome_totals(
    viewer: Viewer, scope: Scope, matured_until: Matured, default: dt.date
) -> Select:
    o = OutcomeStat
    statement = _days(
        _keyed(
            viewer,
            scope,
            o,
            o.action_type,
            o.outcome_type,
            _flag(_matured(o, matured_until, default)).label("matured"),
            *(func.sum(getattr(o, n)).label(n) for n in OUTCOME_SUMS),
        ),
        o,
        scope,
    )
    key = statement.selected_columns["key"]
    # grouped by the output column `matured`, as in `calibration_totals`
    return statement.group_by(key, o.action_type, o.outcome_type, literal_column("matured"))


async def outcome_totals(
    session: AsyncSession,
    viewer: Viewer,
    scope: Scope,
    *,
    matured_until: Mapping[tuple[str, str], dt.date],
    default_matured_until: dt.date,
) -> list[Mapping[str, Any]]:
    """Per key, action type, outcome type and maturity, for the actions taken in range:
    resolved outcomes, the sum of their values (successes; fractions on ordinal scales) and
    pending. ``matured`` is 1 for the days whose outcomes have all had their window close
    (`_matured`): rates count those days only."""
    listed = tuple(sorted(matured_until.items()))
    return await _rows(session, _outcome_totals(viewer, scope, listed, default_matured_until))


@_kept
def _outcomes_by_day(viewer: Viewer, scope: Scope, outcome_types: tuple[str, ...]) -> Select:
    o = OutcomeStat
    statement = _days(
        _in_scope(
            select(
                o.day,
                func.sum(o.resolved).label("resolved"),
                func.sum(o.successes).label("successes"),
                func.sum(o.pending).label("pending"),
            ).where(o.outcome_type.in_(outcome_types)),
            viewer,
            scope,
            o,
        ),
        o,
        scope,
    )
    return statement.group_by(o.day)


async def outcomes_by_day(
    session: AsyncSession, viewer: Viewer, scope: Scope, *, outcome_types: Sequence[str]
) -> list[Mapping[str, Any]]:
    """Per day the actions were taken, over the whole scope: resolved outcomes of
    ``outcome_types``, their successes (e.g. replies) and those still pending."""
    listed = tuple(sorted(outcome_types))
    return await _rows(session, _outcomes_by_day(viewer, scope, listed))


@_kept
def _engagement_by_day(viewer: Viewer, scope: Scope) -> Select:
    e = EmailEngagement
    statement = _days(
        _in_scope(
            select(e.day, *(func.sum(getattr(e, n)).label(n) for n in ENGAGEMENT_SUMS)),
            viewer,
            scope,
            e,
        ),
        e,
        scope,
    )
    return statement.group_by(e.day)


async def engagement_by_day(
    session: AsyncSession, viewer: Viewer, scope: Scope
) -> list[Mapping[str, Any]]:
    """Per day the opens and clicks happened, over the whole scope: opens and clicks, and how
    many of each software made (``email_engagement``)."""
    return await _rows(session, _engagement_by_day(viewer, scope))


@_kept
def _deal_counts(viewer: Viewer, scope: Scope) -> Select:
    d = DealActivity
    counted = [
        func.count(distinct(d.deal_id)).filter(getattr(d, name) > 0).label(name)
        for name in DEAL_SUMS
    ]
    statement = _days(_keyed(viewer, scope, d, *counted), d, scope)
    return statement.group_by(statement.selected_columns["key"])


async def deal_counts(
    session: AsyncSession, viewer: Viewer, scope: Scope
) -> list[Mapping[str, Any]]:
    """Per key: how many deals moved forward, were won or were lost in range (by the CRM
    signals matched to the agent's actions), each deal once per key however many signals it
    had."""
    return await _rows(session, _deal_counts(viewer, scope))


@_kept
def _deal_amounts(viewer: Viewer, scope: Scope) -> Select:
    d = DealActivity
    won = (
        _days(_keyed(viewer, scope, d, d.deal_id).where(d.won > 0), d, scope).distinct().subquery()
    )
    return (
        select(
            won.c.key,
            Deal.currency,
            func.coalesce(func.sum(Deal.amount), 0).label("amount_won"),
        )
        .join(Deal, Deal.id == won.c.deal_id)
        .group_by(won.c.key, Deal.currency)
    )


async def deal_amounts(
    session: AsyncSession, viewer: Viewer, scope: Scope
) -> list[Mapping[str, Any]]:
    """Per key and currency: the amount of the deals won in range, each deal once per key.
    Only the deals won are looked up (the deals table grows with history)."""
    return await _rows(session, _deal_amounts(viewer, scope))


@_kept
def _feedback_totals(viewer: Viewer, scope: Scope) -> Select:
    f = FeedbackStat
    statement = _days(
        _keyed(
            viewer,
            scope,
            f,
            f.target_type,
            *(func.sum(getattr(f, n)).label(n) for n in FEEDBACK_SUMS),
        ),
        f,
        scope,
    )
    key = statement.selected_columns["key"]
    return statement.group_by(key, f.target_type)


async def feedback_totals(
    session: AsyncSession, viewer: Viewer, scope: Scope
) -> list[Mapping[str, Any]]:
    """Per key and target type, for ratings first given in range: count, rating sum,
    prompted."""
    return await _rows(session, _feedback_totals(viewer, scope))


@_kept
def _calibration_totals(
    viewer: Viewer, scope: Scope, matured_until: Matured, default: dt.date
) -> Select:
    by_team = scope.key == "team" and scope.agent_ids is None
    model: Any = CalibrationTeamStat if by_team else CalibrationStat
    day, action_type = model.day, model.action_type
    matured = or_(
        *(and_(action_type == t, day <= until) for t, until in matured_until),
        and_(action_type.not_in(sorted(t for t, _ in matured_until)), day <= default),
    )
    columns = (
        action_type,
        model.bin,
        _flag(matured).label("matured"),
        *(func.sum(getattr(model, n)).label(n) for n in STAT_FIELDS),
    )
    if by_team:
        statement = scoped(
            select(model.team_id.label("key"), *columns).select_from(model), model, viewer
        )
    else:
        statement = _keyed(viewer, scope, model, *columns)
    statement = statement.where(day >= scope.since, day <= scope.until)
    key = statement.selected_columns["key"]
    # grouped by the output column `matured` (its CASE holds bound values: naming it again
    # would bind them twice, which PostgreSQL would not recognise as the same expression)
    return statement.group_by(key, action_type, model.bin, literal_column("matured"))


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
    only, as in ``backend.calibration.service.reassess``. The whole organisation team by team
    reads the team rollup (one row per team and day, not one per agent)."""
    listed = tuple(sorted(matured_until.items()))
    return await _rows(session, _calibration_totals(viewer, scope, listed, default_matured_until))


# -- the ROI's inputs beyond the rollups: work redone, labels given, people in scope ----------


@_kept
def _redone_actions(viewer: Viewer, scope: Scope) -> Select:
    r = ReworkStat
    statement = _days(
        _keyed(viewer, scope, r, r.action_type, func.sum(r.redone).label("redone")), r, scope
    )
    key = statement.selected_columns["key"]
    return statement.group_by(key, r.action_type)


async def redone_actions(
    session: AsyncSession, viewer: Viewer, scope: Scope
) -> list[Mapping[str, Any]]:
    """Per key and action type: the ratings given in range that judged the work wrong (the
    work a person redid, ``feedback.models.judged_wrong``)."""
    return await _rows(session, _redone_actions(viewer, scope))


@_kept
def _labels_given(viewer: Viewer, scope: Scope) -> Select:
    label = OutcomeLabel
    statement = _keyed(viewer, scope, label, func.count().label("labels")).where(
        label.labeled_by_id.is_not(None),
        label.created_at >= scope.start,
        label.created_at < scope.end,
    )
    return statement.group_by(statement.selected_columns["key"])


async def labels_given(
    session: AsyncSession, viewer: Viewer, scope: Scope
) -> list[Mapping[str, Any]]:
    """Per key: outcomes a person labelled in the range (by the label's day)."""
    return await _rows(session, _labels_given(viewer, scope))


@_kept
def _people(viewer: Viewer, scope: Scope) -> Select:
    key = Agent.id if scope.key == "agent" else Agent.team_id
    statement = scoped(
        select(key.label("key"), func.count().label("people")).where(Agent.active.is_(True)),
        Agent,
        viewer,
    )
    if scope.agent_ids is not None:
        statement = statement.where(Agent.id.in_(scope.agent_ids))
    return statement.group_by(key)


async def people(session: AsyncSession, viewer: Viewer, scope: Scope) -> list[Mapping[str, Any]]:
    """Per key: the active agents (one per rep), whose working hours bound the time saved."""
    return await _rows(session, _people(viewer, scope))
