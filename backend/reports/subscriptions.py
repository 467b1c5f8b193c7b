"""Report subscriptions: who may subscribe whom to which report (the person themself, or an
administrator of their organisation for anyone in it), the validation of a subscription (every
problem named by its field), and its creation, change, deletion and listing.

Kind against role: a manager's daily report is about a team they manage, or (no team) the
team they manage when it is sent, so a manager who moved gets their new team (executives and
administrators: any team of the organisation, named); the executive weekly report is for executives
and administrators; a rep's weekly digest is about one of their own agents (opt-in). Each change
is logged and raises `ReportSubscriptionChanged`; the row keeps who created and last changed it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import zoneinfo
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from backend.agents.models import Agent
from backend.auth.service import viewer_of_user
from backend.errors import ErrorCode, NotFoundError, PermissionDeniedError, Problems, flush
from backend.orgs.models import Team, User
from backend.pagination import Page, paginate
from backend.reports.events import ReportSubscriptionChanged, SubscriptionChange
from backend.reports.models import Cadence, ReportChannel, ReportKind, ReportSubscription
from backend.unit_of_work import raise_event
from backend.viewer import Viewer, ViewerRole, scoped

log = logging.getLogger(__name__)
ORGANIZATION_WIDE = frozenset({ViewerRole.EXECUTIVE, ViewerRole.ADMIN})
CADENCE = {
    ReportKind.MANAGER_DAILY: Cadence.DAILY,
    ReportKind.EXECUTIVE_WEEKLY: Cadence.WEEKLY,
    ReportKind.REP_WEEKLY: Cadence.WEEKLY,
}
# A Slack conversation id: a public or private channel (C, G) or a direct message (D).
SLACK_CHANNEL_PATTERN = re.compile(r"^[CGD][A-Z0-9]{5,39}$")


@dataclass(frozen=True)
class SubscriptionInput:
    kind: str
    team_id: int | None = None
    agent_id: int | None = None
    channels: list[str] = field(default_factory=lambda: [ReportChannel.EMAIL.value])
    timezone: str = "UTC"
    send_hour: int = 8
    weekday: int | None = None  # weekly reports: 0 = Monday (default Monday)
    slack_channel: str | None = None
    enabled: bool = True
    user_id: int | None = None  # the recipient; default: the viewer
    subscription_id: int | None = None  # an existing subscription to change


def require_person(viewer: Viewer) -> None:
    if viewer.user_id is None:
        raise PermissionDeniedError("report subscriptions belong to people")


def valid_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


async def _recipient(
    session: AsyncSession, viewer: Viewer, user_id: int | None, problems: Problems
) -> tuple[User, Viewer] | None:
    """The person who receives the report, with their current viewer. Someone else's only for
    an administrator; an unknown, inactive or foreign person is not found."""
    target_id = viewer.user_id if user_id is None else user_id
    if target_id != viewer.user_id and viewer.role is not ViewerRole.ADMIN:
        problems.add("userId", "only administrators subscribe other people", ErrorCode.FORBIDDEN)
        return None
    user = await session.scalar(
        select(User).where(User.id == target_id, User.organization_id == viewer.organization_id)
    )
    recipient = await viewer_of_user(session, user.id) if user is not None else None
    if user is None or recipient is None:
        problems.add("userId", "user not found", ErrorCode.NOT_FOUND)
        return None
    return user, recipient


async def _check_scope(
    session: AsyncSession,
    given: SubscriptionInput,
    kind: ReportKind,
    recipient: Viewer,
    problems: Problems,
) -> None:
    """The report's scope against what the recipient may see now (and their role)."""
    organization_id = recipient.organization_id
    if kind is ReportKind.MANAGER_DAILY:
        problems.require(given.agent_id is None, "agentId", "a manager's report names no agent")
        if recipient.role not in (ViewerRole.MANAGER, *ORGANIZATION_WIDE):
            problems.add(
                "kind", "the daily team report is for managers, executives and administrators"
            )
            return
        if given.team_id is None:  # a manager's own team, whichever it is when sending
            if recipient.role is not ViewerRole.MANAGER or not recipient.team_ids:
                problems.add(
                    "teamId", "name the team (none: a manager's own team)", ErrorCode.REQUIRED
                )
            return
        team = await session.scalar(
            select(Team.id).where(Team.id == given.team_id, Team.organization_id == organization_id)
        )
        if team is None or not (recipient.team_ids is None or given.team_id in recipient.team_ids):
            problems.add("teamId", "team not found among the teams you manage", ErrorCode.NOT_FOUND)
    elif kind is ReportKind.EXECUTIVE_WEEKLY:
        problems.require(
            recipient.role in ORGANIZATION_WIDE,
            "kind",
            "the executive weekly report is for executives and administrators",
        )
        problems.require(given.team_id is None, "teamId", "it covers the organisation: no team")
        problems.require(given.agent_id is None, "agentId", "it covers the organisation: no agent")
    else:
        problems.require(given.team_id is None, "teamId", "a rep's digest names its agent only")
        if recipient.role is not ViewerRole.REP:
            problems.add("kind", "the weekly digest is for reps, about their own agent")
            return
        if given.agent_id is None:
            problems.add("agentId", "the weekly digest needs its agent", ErrorCode.REQUIRED)
            return
        agent = await session.scalar(
            select(Agent.id).where(
                Agent.id == given.agent_id, Agent.organization_id == organization_id
            )
        )
        if agent is None or not recipient.can_see_agent(given.agent_id):
            problems.add("agentId", "agent not found among your own", ErrorCode.NOT_FOUND)


def _check_values(
    given: SubscriptionInput, kind: ReportKind | None, user: User | None, problems: Problems
) -> None:
    problems.require(
        valid_timezone(given.timezone),
        "timezone",
        f"unknown time zone {given.timezone!r}; an IANA name such as Europe/Berlin",
    )
    problems.require(0 <= given.send_hour <= 23, "sendHour", "must be 0 to 23 (local hour)")
    if kind is not None and CADENCE[kind] is Cadence.DAILY:
        problems.require(given.weekday is None, "weekday", "a daily report has no weekday")
    elif given.weekday is not None:
        problems.require(0 <= given.weekday <= 6, "weekday", "must be 0 (Monday) to 6 (Sunday)")
    if given.slack_channel is not None:
        problems.require(
            bool(SLACK_CHANNEL_PATTERN.match(given.slack_channel)),
            "slackChannel",
            "must be a Slack channel id such as C0123ABCD (or none: a direct message)",
        )
    channels = [ReportChannel.EMAIL.value, ReportChannel.SLACK.value]
    unknown = sorted(set(given.channels) - set(channels))
    if not problems.require(not unknown, "channels", f"unknown {', '.join(unknown)}"):
        return
    problems.require(bool(given.channels), "channels", "at least one: email or slack")
    if ReportChannel.SLACK.value in given.channels and given.slack_channel is None:
        problems.require(
            user is None or bool(user.slack_user_id),
            "slackChannel",
            "Slack needs a channel, or a recipient mapped to a Slack user for a direct message",
        )


async def visible_subscription(
    session: AsyncSession, viewer: Viewer, subscription_id: int
) -> ReportSubscription:
    """A subscription the viewer sees (their own; executives and administrators: all)."""
    statement = scoped(
        select(ReportSubscription).where(ReportSubscription.id == subscription_id),
        ReportSubscription,
        viewer,
    )
    subscription = await session.scalar(statement)
    if subscription is None:
        raise NotFoundError("report subscription", field="id")
    return subscription


def _may_change(viewer: Viewer, subscription: ReportSubscription) -> bool:
    return subscription.user_id == viewer.user_id or viewer.role is ViewerRole.ADMIN


async def upsert_subscription(
    session: AsyncSession, viewer: Viewer, given: SubscriptionInput, *, now: dt.datetime
) -> ReportSubscription:
    """Create a subscription, or change ``given.subscription_id`` (or the recipient's existing
    one of the same kind and scope). A rejected request changes nothing."""
    require_person(viewer)
    current = None
    if given.subscription_id is not None:
        current = await visible_subscription(session, viewer, given.subscription_id)
        if not _may_change(viewer, current):
            raise NotFoundError("report subscription", field="id")
    problems = Problems()
    kinds = [k.value for k in ReportKind]
    kind = ReportKind(given.kind) if given.kind in kinds else None
    if kind is None:
        problems.add("kind", f"must be one of {', '.join(kinds)}")
    user_id = given.user_id
    if user_id is None and current is not None:
        user_id = current.user_id
    found = await _recipient(session, viewer, user_id, problems)
    user = found[0] if found else None
    if found is not None and kind is not None:
        await _check_scope(session, given, kind, found[1], problems)
    _check_values(given, kind, user, problems)
    problems.raise_if_any()
    assert kind is not None and user is not None
    cadence = CADENCE[kind]
    values = {
        "kind": kind.value,
        "cadence": cadence.value,
        "team_id": given.team_id,
        "agent_id": given.agent_id,
        "channels": sorted(set(given.channels)),
        "slack_channel": given.slack_channel,
        "timezone": given.timezone,
        "send_hour": given.send_hour,
        "weekday": (given.weekday if given.weekday is not None else 0)
        if cadence is Cadence.WEEKLY
        else None,
        "enabled": given.enabled,
    }
    if current is None:  # the recipient's subscription of the same report, if any
        current = await session.scalar(
            select(ReportSubscription).where(
                ReportSubscription.user_id == user.id,
                ReportSubscription.kind == kind.value,
                _same(ReportSubscription.team_id, given.team_id),
                _same(ReportSubscription.agent_id, given.agent_id),
            )
        )
    if current is None:
        subscription = ReportSubscription(
            organization_id=viewer.organization_id,
            user_id=user.id,
            created_by_id=viewer.user_id,
            created_at=now,
            **values,
        )
        session.add(subscription)
        await flush(session)
        _changed(session, viewer, subscription, SubscriptionChange.CREATED)
        return subscription
    if current.user_id != user.id:
        problems.add("userId", "a subscription keeps its recipient; create another one")
        problems.raise_if_any()
    if all(getattr(current, name) == value for name, value in values.items()):
        return current  # a retry: nothing changes
    if values["enabled"] and not current.enabled:
        current.unsubscribed_at = None  # subscribed again
    for name, value in values.items():
        setattr(current, name, value)
    current.updated_at = now
    current.updated_by_id = viewer.user_id
    await flush(session)
    _changed(session, viewer, current, SubscriptionChange.UPDATED)
    return current


def _same(column: InstrumentedAttribute[int | None], value: int | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _changed(
    session: AsyncSession,
    viewer: Viewer | None,
    subscription: ReportSubscription,
    change: SubscriptionChange,
) -> None:
    by = viewer.user_id if viewer is not None else None
    log.info(
        "report subscription %d (%s for user %d) %s by %s",
        subscription.id,
        subscription.kind,
        subscription.user_id,
        change.value,
        f"user {by}" if by is not None else "one-click unsubscribe",
    )
    raise_event(
        session,
        ReportSubscriptionChanged(
            organization_id=subscription.organization_id,
            subscription_id=subscription.id,
            user_id=subscription.user_id,
            change=change,
            by_user_id=by,
        ),
    )


async def delete_subscription(
    session: AsyncSession, viewer: Viewer, subscription_id: int
) -> ReportSubscription:
    """Delete a subscription with its runs and deliveries (the recipient or an administrator)."""
    require_person(viewer)
    subscription = await visible_subscription(session, viewer, subscription_id)
    if not _may_change(viewer, subscription):
        raise NotFoundError("report subscription", field="id")
    _changed(session, viewer, subscription, SubscriptionChange.DELETED)
    await session.delete(subscription)
    await flush(session)
    return subscription


async def unsubscribe(
    session: AsyncSession, subscription_id: int, *, user_id: int, now: dt.datetime
) -> ReportSubscription | None:
    """The e-mail's one-click unsubscribe (its signed link names the subscription and its
    recipient): the subscription is disabled. Idempotent; None when it no longer exists."""
    subscription = await session.scalar(
        select(ReportSubscription).where(
            and_(ReportSubscription.id == subscription_id, ReportSubscription.user_id == user_id)
        )
    )
    if subscription is None:
        return None
    if subscription.enabled or subscription.unsubscribed_at is None:
        subscription.enabled = False
        subscription.unsubscribed_at = subscription.unsubscribed_at or now
        subscription.updated_at = now
        await flush(session)
        _changed(session, None, subscription, SubscriptionChange.UNSUBSCRIBED)
    return subscription


async def subscriptions_page(
    session: AsyncSession,
    viewer: Viewer,
    *,
    first: int | None = None,
    after: str | None = None,
) -> Page[ReportSubscription]:
    """The subscriptions the viewer sees (their own; executives and administrators: the
    organisation's), newest first."""
    require_person(viewer)
    statement = scoped(select(ReportSubscription), ReportSubscription, viewer)
    order = (ReportSubscription.created_at, ReportSubscription.id)
    return await paginate(session, statement, order=order, first=first, after=after)
