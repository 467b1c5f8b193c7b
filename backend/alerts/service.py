"""Use cases on alerts: the pages a viewer sees, and acknowledging, resolving and snoozing.

Who sees an alert: executives and admins all; a manager the alerts of their teams and of their
teams' agents; a rep those of their own agents. API keys read none (alerts reach partners by
their own channels). An alert out of sight behaves as an unknown one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alerts import state
from backend.alerts.models import Alert, AlertState, Severity
from backend.errors import NotFoundError, PermissionDeniedError, Problems
from backend.pagination import Page, paginate
from backend.viewer import Viewer, ViewerRole

LIST_ORDER = (Alert.fired_at, Alert.id)  # newest first
MAX_SNOOZE = dt.timedelta(days=30)


def require_alert_reader(viewer: Viewer) -> None:
    if viewer.api_client_id is not None:
        raise PermissionDeniedError("alerts are read by people")


def visible_alerts(statement: Select, viewer: Viewer) -> Select:
    """Restrict ``statement`` over alerts to those ``viewer`` may see."""
    statement = statement.where(Alert.organization_id == viewer.organization_id)
    if viewer.sees_whole_organization:
        return statement
    sees: list[Any] = [Alert.agent_id.in_(sorted(viewer.agent_ids or ()))]
    if viewer.role is ViewerRole.MANAGER:
        sees.append(Alert.agent_id.is_(None) & Alert.team_id.in_(sorted(viewer.team_ids or ())))
    return statement.where(or_(*sees))


def sees_alert(viewer: Viewer, *, team_id: int | None, agent_id: int | None) -> bool:
    """The same rule as `visible_alerts`, for one alert (a live event)."""
    if viewer.sees_whole_organization:
        return True
    if agent_id is not None:
        return agent_id in (viewer.agent_ids or ())
    return viewer.role is ViewerRole.MANAGER and team_id in (viewer.team_ids or ())


async def alerts_page(
    session: AsyncSession,
    viewer: Viewer,
    *,
    states: list[AlertState] | None = None,
    severity: Severity | None = None,
    team_id: int | None = None,
    agent_id: int | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[Alert]:
    """The alerts the viewer sees, newest first; a team or agent filter out of sight finds
    nothing, as an unknown one."""
    require_alert_reader(viewer)
    statement = visible_alerts(select(Alert), viewer)
    if states:
        statement = statement.where(Alert.state.in_([s.value for s in states]))
    if severity is not None:
        statement = statement.where(Alert.severity == severity.value)
    if team_id is not None:
        statement = statement.where(Alert.team_id == team_id)
    if agent_id is not None:
        statement = statement.where(Alert.agent_id == agent_id)
    return await paginate(session, statement, order=LIST_ORDER, first=first, after=after)


async def visible_alert(session: AsyncSession, viewer: Viewer, alert_id: int) -> Alert:
    require_alert_reader(viewer)
    alert = await session.scalar(visible_alerts(select(Alert).where(Alert.id == alert_id), viewer))
    if alert is None:
        raise NotFoundError("alert", field="id")
    return alert


def _require_person(viewer: Viewer) -> None:
    if viewer.role in (ViewerRole.AGENT, ViewerRole.PARTNER) or viewer.api_client_id is not None:
        raise PermissionDeniedError("alerts are acknowledged by people")


async def acknowledge_alert(
    session: AsyncSession, viewer: Viewer, alert_id: int, *, now: dt.datetime
) -> Alert:
    """A firing alert becomes acknowledged, by whom and when; acknowledging again changes
    nothing."""
    _require_person(viewer)
    alert = await visible_alert(session, viewer, alert_id)
    await state.acknowledge(session, alert.id, by_user_id=viewer.user_id, now=now)
    return await session.get_one(Alert, alert.id, populate_existing=True)


async def resolve_alert(
    session: AsyncSession, viewer: Viewer, alert_id: int, *, now: dt.datetime
) -> Alert:
    """An open alert is resolved by a person; resolving again changes nothing."""
    _require_person(viewer)
    alert = await visible_alert(session, viewer, alert_id)
    await state.resolve(session, alert.id, by_user_id=viewer.user_id, now=now)
    return await session.get_one(Alert, alert.id, populate_existing=True)


async def snooze_alert(
    session: AsyncSession,
    viewer: Viewer,
    alert_id: int,
    *,
    until: dt.datetime,
    now: dt.datetime,
) -> Alert:
    """Quiet an open alert until ``until`` (in the future, at most 30 days ahead)."""
    _require_person(viewer)
    problems = Problems()
    if problems.require(until.tzinfo is not None, "until", "must carry a time zone"):
        problems.require(until > now, "until", f"must be after now ({now.isoformat()})")
        problems.require(until <= now + MAX_SNOOZE, "until", "at most 30 days ahead")
    problems.raise_if_any()
    alert = await visible_alert(session, viewer, alert_id)
    if alert.state == AlertState.RESOLVED:
        problems.add("id", "the alert is resolved")
        problems.raise_if_any()
    await state.snooze(session, alert.id, until=until, by_user_id=viewer.user_id, now=now)
    return await session.get_one(Alert, alert.id, populate_existing=True)
