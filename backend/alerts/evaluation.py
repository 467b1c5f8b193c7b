"""Evaluating rules: the worker's job over threshold, anomaly and drift rules (on the daily
rollups), and the hold period that resolves event-driven alerts once their condition cleared.

Each rule is evaluated in its own unit of work; on PostgreSQL the rule row is claimed with
``FOR UPDATE SKIP LOCKED`` so concurrent workers split the rules between them, and the alert's
unique open key keeps two evaluations of one rule from raising it twice wherever they run.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.alerts.events import AlertChange
from backend.alerts.judgement import judge_series_rule
from backend.alerts.models import Alert, AlertRule, RuleKind
from backend.alerts.state import OPEN, Subject, apply_judgement, resolve
from backend.scope import organization_config

SERIES_KINDS = (RuleKind.THRESHOLD.value, RuleKind.ANOMALY.value, RuleKind.DRIFT.value)


def rule_subject(rule: AlertRule) -> Subject:
    """A series rule's alert is about the rule's own scope."""
    if rule.scope == "agent":
        key = f"agent:{rule.agent_id}"
    elif rule.scope == "team":
        key = f"team:{rule.team_id}"
    else:
        key = "organization"
    return Subject(key, rule.team_id, rule.agent_id, rule.action_type)


async def rules_to_evaluate(
    session: AsyncSession, *, organization_id: int | None = None
) -> list[int]:
    """Ids of the enabled, live threshold, anomaly and drift rules (of one organisation)."""
    statement = select(AlertRule.id).where(
        AlertRule.enabled.is_(True),
        AlertRule.deleted_at.is_(None),
        AlertRule.kind.in_(SERIES_KINDS),
    )
    if organization_id is not None:
        statement = statement.where(AlertRule.organization_id == organization_id)
    return list(await session.scalars(statement.order_by(AlertRule.id)))


async def _agents_of(session: AsyncSession, rule: AlertRule) -> list[int] | None:
    if rule.scope == "agent":
        return [rule.agent_id] if rule.agent_id is not None else []
    if rule.scope == "team":
        statement = select(Agent.id).where(
            Agent.organization_id == rule.organization_id, Agent.team_id == rule.team_id
        )
        return list(await session.scalars(statement))
    return None


async def evaluate_rule(
    session: AsyncSession, rule_id: int, *, now: dt.datetime
) -> AlertChange | None:
    """Judge one rule at ``now`` and move its alert; skipped when another worker holds it."""
    statement = select(AlertRule).where(
        AlertRule.id == rule_id, AlertRule.enabled.is_(True), AlertRule.deleted_at.is_(None)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    rule = await session.scalar(statement)
    if rule is None or rule.kind not in SERIES_KINDS:
        return None
    config = await organization_config(session, rule.organization_id)
    agent_ids = await _agents_of(session, rule)
    if agent_ids == []:
        return None
    judgement = await judge_series_rule(session, rule, agent_ids=agent_ids, config=config, now=now)
    if judgement is None:
        return None
    return await apply_judgement(session, rule, rule_subject(rule), judgement, now=now)


async def resolve_cleared_event_alerts(session: AsyncSession, *, now: dt.datetime) -> int:
    """Resolve the open calibration and policy alerts whose condition has stayed cleared for
    their rule's hold period (series rules resolve when they are evaluated)."""
    rows = await session.execute(
        select(Alert.id, Alert.cleared_at, AlertRule.hold_hours)
        .join(AlertRule, AlertRule.id == Alert.rule_id)
        .where(
            Alert.state.in_(OPEN),
            Alert.cleared_at.is_not(None),
            Alert.kind.in_([RuleKind.CALIBRATION.value, RuleKind.POLICY.value]),
        )
        .order_by(Alert.id)
    )
    resolved = 0
    for alert_id, cleared_at, hold_hours in rows.all():
        if cleared_at is not None and now - cleared_at >= dt.timedelta(hours=hold_hours):
            resolved += await resolve(session, alert_id, by_user_id=None, now=now)
    return resolved
