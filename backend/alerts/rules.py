"""Alert rule management: who may create, change, disable and delete rules (managers for their
teams, executives and admins for the organisation), the validation of a rule (every problem
named by its field), and the audit trail of each change."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from backend.actions.models import ACTION_TYPE_PATTERN
from backend.alerts.metrics import METRICS, Metric, metrics_for
from backend.alerts.models import (
    Alert,
    AlertRule,
    AlertRuleChange,
    Direction,
    RuleChangeKind,
    RuleKind,
    Severity,
)
from backend.alerts.state import OPEN, resolve
from backend.errors import (
    DomainError,
    ErrorCode,
    InvalidInput,
    NotFoundError,
    PermissionDeniedError,
    Problems,
    flush,
)
from backend.pagination import Page, paginate
from backend.scope import agent_in_scope, team_in_scope
from backend.viewer import Viewer, ViewerRole, scoped

MANAGERS = (ViewerRole.MANAGER, ViewerRole.EXECUTIVE, ViewerRole.ADMIN)
READERS = (ViewerRole.REP, *MANAGERS)
CHANNELS = frozenset({"dashboard", "email", "slack"})
# A Slack conversation id: a public or private channel (C, G) or a direct message (D).
SLACK_CHANNEL_PATTERN = re.compile(r"^[CGD][A-Z0-9]{5,39}$")
SERIES_WINDOW_MAX = 60  # anomaly and drift: findings within this many trailing days
AUDITED = (
    "name",
    "kind",
    "metric",
    "action_type",
    "scope",
    "team_id",
    "agent_id",
    "direction",
    "threshold",
    "clear_threshold",
    "window_days",
    "hold_hours",
    "severity",
    "channels",
    "slack_channel",
    "remind_after_minutes",
    "enabled",
)


@dataclass(frozen=True)
class RuleInput:
    name: str
    kind: str
    metric: str
    scope: str = "organization"
    team_id: int | None = None
    agent_id: int | None = None
    action_type: str | None = None
    direction: str | None = None
    threshold: float | None = None
    clear_threshold: float | None = None
    window_days: int = 7
    hold_hours: int = 24
    severity: str = Severity.WARNING.value
    channels: list[str] = field(default_factory=lambda: ["dashboard"])
    slack_channel: str | None = None
    remind_after_minutes: int | None = None
    enabled: bool = True
    rule_id: int | None = None  # an existing rule to change


def require_rule_manager(viewer: Viewer) -> None:
    if viewer.api_client_id is not None:
        raise PermissionDeniedError("alert rules are managed by people")
    viewer.require_role(*MANAGERS)


def require_rule_reader(viewer: Viewer) -> None:
    if viewer.api_client_id is not None:
        raise PermissionDeniedError("alert rules are read by people")
    viewer.require_role(*READERS)


def _snapshot(rule: AlertRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in AUDITED}


def _check_values(given: RuleInput, problems: Problems) -> None:
    problems.require(0 < len(given.name.strip()) <= 200, "name", "must be 1 to 200 characters")
    kinds = [k.value for k in RuleKind]
    if not problems.require(given.kind in kinds, "kind", f"must be one of {', '.join(kinds)}"):
        return
    kind = RuleKind(given.kind)
    allowed = metrics_for(kind)
    metric = METRICS.get(given.metric)
    problems.require(
        metric is not None and kind in metric.kinds,
        "metric",
        f"{given.metric!r} is not watched by {kind.value} rules; one of {', '.join(allowed)}",
    )
    if given.direction is not None and problems.require(
        given.direction in (Direction.ABOVE, Direction.BELOW), "direction", "above or below"
    ):
        problems.require(
            metric is None or given.direction in metric.directions,
            "direction",
            f"{given.metric} fires above a threshold only",
        )
    if kind is RuleKind.THRESHOLD:
        problems.require(
            given.direction is not None, "direction", "a threshold needs above or below"
        )
        problems.require(given.threshold is not None, "threshold", "a threshold rule needs one")
    for name, value in (("threshold", given.threshold), ("clearThreshold", given.clear_threshold)):
        if value is None:
            continue
        if not problems.require(math.isfinite(value), name, "must be a finite number"):
            continue
        if metric is None or metric.is_rate or kind is RuleKind.CALIBRATION:
            problems.require(0 <= value <= 1, name, f"is a share: between 0 and 1, got {value}")
        else:  # money, hours, a count
            problems.require(value >= 0, name, f"must be 0 or more, got {value}")
    if given.clear_threshold is not None and (
        problems.require(
            kind is RuleKind.THRESHOLD, "clearThreshold", "only threshold rules have one"
        )
        and given.threshold is not None
        and given.direction is not None
    ):
        good_side = (
            given.clear_threshold <= given.threshold
            if given.direction == Direction.ABOVE
            else given.clear_threshold >= given.threshold
        )
        problems.require(
            good_side,
            "clearThreshold",
            f"must be on the good side of the threshold ({given.threshold}): an alert "
            f"{given.direction} it clears back past this value",
        )
    longest = SERIES_WINDOW_MAX if kind in (RuleKind.ANOMALY, RuleKind.DRIFT) else 365
    problems.require(
        1 <= given.window_days <= longest, "windowDays", f"must be 1 to {longest} days"
    )
    problems.require(0 <= given.hold_hours <= 720, "holdHours", "must be 0 to 720 hours")
    severities = [s.value for s in Severity]
    problems.require(
        given.severity in severities, "severity", f"must be one of {', '.join(severities)}"
    )
    unknown = sorted(set(given.channels) - CHANNELS)
    problems.require(
        not unknown, "channels", f"unknown {', '.join(unknown)}; use {', '.join(sorted(CHANNELS))}"
    )
    if given.slack_channel is not None:
        problems.require(
            bool(SLACK_CHANNEL_PATTERN.match(given.slack_channel)),
            "slackChannel",
            "must be a Slack channel id such as C0123ABCD (or none: the workspace's default)",
        )
    if given.remind_after_minutes is not None:
        problems.require(
            5 <= given.remind_after_minutes <= 10080,
            "remindAfterMinutes",
            "must be 5 to 10080 minutes (a week)",
        )
    if given.action_type is not None:
        problems.require(
            bool(ACTION_TYPE_PATTERN.match(given.action_type)),
            "actionType",
            "must be lower_snake_case, at most 40 characters",
        )
        _check_action_type(given.action_type, metric, problems)


def _check_action_type(action_type: str, metric: Metric | None, problems: Problems) -> None:
    """A metric is narrowed only to the action types its data has."""
    if metric is None or metric.action_types is None or action_type in metric.action_types:
        return
    if not metric.action_types:
        problems.add("actionType", f"{metric.name} is not kept by action type; leave it out")
    else:
        allowed = ", ".join(sorted(metric.action_types))
        problems.add("actionType", f"{metric.name} is about {allowed} actions only, or all")


async def _check_scope(
    session: AsyncSession, viewer: Viewer, given: RuleInput, problems: Problems
) -> int | None:
    """The rule's team (an agent's rule keeps its agent's team); scope problems to ``problems``.
    A team or agent out of the viewer's scope is not found, as an unknown one."""
    if given.scope == "organization":
        if not viewer.sees_whole_organization:
            problems.add(
                "scope", "managers set rules on their teams or agents", ErrorCode.FORBIDDEN
            )
        problems.require(
            given.team_id is None and given.agent_id is None,
            "scope",
            "an organisation rule names no team or agent",
        )
        return None
    if given.scope == "team":
        problems.require(given.agent_id is None, "agentId", "a team rule names no agent")
        if given.team_id is None:
            problems.add("teamId", "a team rule needs its team", ErrorCode.REQUIRED)
            return None
        if await team_in_scope(session, viewer, given.team_id) is None:
            problems.add("teamId", "team not found", ErrorCode.NOT_FOUND)
        return given.team_id
    if given.scope == "agent":
        if given.agent_id is None:
            problems.add("agentId", "an agent rule needs its agent", ErrorCode.REQUIRED)
            return None
        agent = await agent_in_scope(session, viewer, given.agent_id)
        if agent is None:
            problems.add("agentId", "agent not found", ErrorCode.NOT_FOUND)
            return None
        return agent.team_id
    problems.add("scope", "must be organization, team or agent")
    return None


async def visible_rule(
    session: AsyncSession, viewer: Viewer, rule_id: int, *, deleted: bool = False
) -> AlertRule:
    statement = scoped(select(AlertRule).where(AlertRule.id == rule_id), AlertRule, viewer)
    if not deleted:
        statement = statement.where(AlertRule.deleted_at.is_(None))
    rule = await session.scalar(statement)
    if rule is None:
        raise NotFoundError("alert rule", field="id")
    return rule


async def upsert_rule(
    session: AsyncSession, viewer: Viewer, given: RuleInput, *, now: dt.datetime
) -> AlertRule:
    """Create a rule, or change ``given.rule_id``; audited. A rule that would not change (a
    retry) writes nothing."""
    require_rule_manager(viewer)
    problems = Problems()
    _check_values(given, problems)
    team_id = await _check_scope(session, viewer, given, problems)
    problems.raise_if_any()
    current = None if given.rule_id is None else await visible_rule(session, viewer, given.rule_id)
    same_name = await session.scalar(
        scoped(select(AlertRule), AlertRule, Viewer.system(viewer.organization_id)).where(
            AlertRule.name == given.name.strip(), AlertRule.deleted_at.is_(None)
        )
    )
    values = {
        "name": given.name.strip(),
        "kind": given.kind,
        "metric": given.metric,
        "action_type": given.action_type,
        "scope": given.scope,
        "team_id": team_id,
        "agent_id": given.agent_id if given.scope == "agent" else None,
        "direction": given.direction,
        "threshold": given.threshold,
        "clear_threshold": given.clear_threshold,
        "window_days": given.window_days,
        "hold_hours": given.hold_hours,
        "severity": given.severity,
        "channels": sorted(set(given.channels)),
        "slack_channel": given.slack_channel,
        "remind_after_minutes": given.remind_after_minutes,
        "enabled": given.enabled,
    }
    if same_name is not None and (current is None or same_name.id != current.id):
        if current is None and _snapshot(same_name) == values:
            return same_name  # a retried creation
        raise InvalidInput(
            [DomainError(ErrorCode.CONFLICT, "another rule has this name", field="name")]
        )
    if current is None:
        rule = AlertRule(
            organization_id=viewer.organization_id,
            created_by_id=viewer.user_id,
            created_at=now,
            **values,
        )
        session.add(rule)
        await flush(session)
        _audit(session, viewer, rule, RuleChangeKind.CREATED, None, values, now=now)
        await flush(session)
        return rule
    before = _snapshot(current)
    if before == values:
        return current
    for name, value in values.items():
        setattr(current, name, value)
    current.updated_at = now
    if before["enabled"] != values["enabled"]:
        change = RuleChangeKind.ENABLED if values["enabled"] else RuleChangeKind.DISABLED
    else:
        change = RuleChangeKind.UPDATED
    _audit(session, viewer, current, change, before, values, now=now)
    await flush(session)
    return current


async def delete_rule(
    session: AsyncSession, viewer: Viewer, rule_id: int, *, now: dt.datetime
) -> AlertRule:
    """Delete a rule (kept, never evaluated again, audited); its open alerts are resolved by
    the person who deleted it. Deleting it again changes nothing."""
    require_rule_manager(viewer)
    rule = await visible_rule(session, viewer, rule_id, deleted=True)
    if rule.deleted_at is not None:
        return rule
    before = _snapshot(rule)
    rule.deleted_at = now
    rule.enabled = False
    rule.updated_at = now
    _audit(session, viewer, rule, RuleChangeKind.DELETED, before, None, now=now)
    await flush(session)
    open_ids = await session.scalars(
        select(Alert.id).where(Alert.rule_id == rule.id, Alert.state.in_(OPEN)).order_by(Alert.id)
    )
    for alert_id in list(open_ids):
        await resolve(session, alert_id, by_user_id=viewer.user_id, now=now)
    return rule


def _audit(
    session: AsyncSession,
    viewer: Viewer,
    rule: AlertRule,
    change: RuleChangeKind,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    now: dt.datetime,
) -> None:
    session.add(
        AlertRuleChange(
            organization_id=rule.organization_id,
            rule_id=rule.id,
            team_id=rule.team_id,
            change=change.value,
            changed_by_id=viewer.user_id,
            changed_at=now,
            before=before,
            after=after,
        )
    )


async def rules_in_scope(
    session: AsyncSession, viewer: Viewer, *, include_disabled: bool = True
) -> list[AlertRule]:
    """The live rules the viewer sees (a manager: their teams' and their agents')."""
    require_rule_reader(viewer)
    statement = scoped(select(AlertRule), AlertRule, viewer).where(AlertRule.deleted_at.is_(None))
    if not include_disabled:
        statement = statement.where(AlertRule.enabled.is_(True))
    return list(await session.scalars(statement.order_by(AlertRule.name, AlertRule.id)))


async def rule_history(
    session: AsyncSession, viewer: Viewer, rule_id: int
) -> list[AlertRuleChange]:
    require_rule_reader(viewer)
    rule = await visible_rule(session, viewer, rule_id, deleted=True)
    statement = select(AlertRuleChange).where(AlertRuleChange.rule_id == rule.id)
    return list(
        await session.scalars(statement.order_by(AlertRuleChange.changed_at, AlertRuleChange.id))
    )


async def rules_page(
    session: AsyncSession,
    viewer: Viewer,
    *,
    team_id: int | None = None,
    agent_id: int | None = None,
    include_deleted: bool = False,
    first: int | None = None,
    after: str | None = None,
) -> Page[AlertRule]:
    """The rules the viewer sees, newest first (a team filter: the team's rules and its agents');
    a team or agent out of sight finds nothing, as an unknown one."""
    require_rule_reader(viewer)
    statement = scoped(select(AlertRule), AlertRule, viewer)
    if not include_deleted:
        statement = statement.where(AlertRule.deleted_at.is_(None))
    if team_id is not None:
        statement = statement.where(AlertRule.team_id == team_id)
    if agent_id is not None:
        statement = statement.where(AlertRule.agent_id == agent_id)
    order = (AlertRule.created_at, AlertRule.id)
    return await paginate(session, statement, order=order, first=first, after=after)


async def rule_history_page(
    session: AsyncSession,
    viewer: Viewer,
    rule_id: int,
    *,
    first: int | None = None,
    after: str | None = None,
) -> Page[AlertRuleChange]:
    """A rule's audit trail (deleted rules too), newest first."""
    require_rule_reader(viewer)
    rule = await visible_rule(session, viewer, rule_id, deleted=True)
    statement = select(AlertRuleChange).where(
        AlertRuleChange.organization_id == rule.organization_id,
        AlertRuleChange.rule_id == rule.id,
    )
    order = (AlertRuleChange.changed_at, AlertRuleChange.id)
    return await paginate(session, statement, order=order, first=first, after=after)


async def first_history_pages(
    session: AsyncSession, viewer: Viewer, rule_ids: Sequence[int], size: int
) -> dict[int, Page[AlertRuleChange]]:
    """The first page (``size`` changes, newest first) of each visible rule's audit trail, with
    its total, in one statement: the changes numbered per rule by a window function, joined to
    the rules the viewer sees (deleted ones too); a rule without changes has an empty page."""
    newest_first = (AlertRuleChange.changed_at.desc(), AlertRuleChange.id.desc())
    ranked = (
        select(
            AlertRuleChange,
            func.row_number()
            .over(partition_by=AlertRuleChange.rule_id, order_by=newest_first)
            .label("position"),
            func.count().over(partition_by=AlertRuleChange.rule_id).label("total"),
        )
        .where(
            AlertRuleChange.organization_id == viewer.organization_id,
            AlertRuleChange.rule_id.in_(rule_ids),
        )
        .subquery()
    )
    change = aliased(AlertRuleChange, ranked)
    statement = scoped(
        select(AlertRule.id, change, ranked.c.total)
        .select_from(AlertRule)
        .outerjoin(ranked, and_(ranked.c.rule_id == AlertRule.id, ranked.c.position <= size + 1))
        .where(AlertRule.id.in_(rule_ids)),
        AlertRule,
        viewer,
    ).order_by(AlertRule.id, ranked.c.position)
    changes: dict[int, list[AlertRuleChange]] = {}
    totals: dict[int, int] = {}
    for rule_id, row, total in await session.execute(statement):
        changes.setdefault(rule_id, [])
        if row is not None:
            changes[rule_id].append(row)
            totals[rule_id] = int(total)
    return {
        rule_id: Page(
            items=rows[:size],
            keys=[(row.changed_at, row.id) for row in rows[:size]],
            has_next=len(rows) > size,
            has_previous=False,
            total=totals.get(rule_id, 0),
        )
        for rule_id, rows in changes.items()
    }
