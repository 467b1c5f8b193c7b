"""Calibration and policy rules, fired from those domains' live events after the commit that
raised them (handlers in ``backend/handlers.py``), so a subscriber hears of a drift right after
the outcome that caused it.

- calibration: a verdict becomes overconfident, underconfident or miscalibrated (or, with a
  threshold, its debiased error passes it) -> fire; a later verdict back within bounds clears
  the alert, which resolves itself after the rule's hold period.
- policy: automation moved a policy's thresholds, or a person froze it or rolled it back -> a
  notice, resolving itself after the hold period unless a person resolves it first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.alerts.judgement import Judgement
from backend.alerts.models import AlertRule, RuleKind
from backend.alerts.state import Subject, apply_judgement, fire_notice
from backend.calibration.models import CalibrationVerdict
from backend.events.service import Event
from backend.policy.models import PolicyChange

MISCALIBRATED = frozenset({"overconfident", "underconfident", "miscalibrated"})


async def _rules_for(
    session: AsyncSession,
    kind: RuleKind,
    organization_id: int,
    agent_id: int | None,
    action_type: str,
) -> tuple[list[AlertRule], int | None]:
    """The enabled rules of ``kind`` whose scope holds the agent (organisation-wide events:
    organisation rules only) and whose action type (if any) is the event's; and the agent's
    team."""
    team_id = None
    if agent_id is not None:
        team_id = await session.scalar(
            select(Agent.team_id).where(
                Agent.id == agent_id, Agent.organization_id == organization_id
            )
        )
    covers = [AlertRule.scope == "organization"]
    if agent_id is not None:
        covers.append(AlertRule.agent_id == agent_id)
        if team_id is not None:
            covers.append((AlertRule.scope == "team") & (AlertRule.team_id == team_id))
    statement = (
        select(AlertRule)
        .where(
            AlertRule.organization_id == organization_id,
            AlertRule.kind == kind.value,
            AlertRule.enabled.is_(True),
            AlertRule.deleted_at.is_(None),
            or_(AlertRule.action_type.is_(None), AlertRule.action_type == action_type),
            or_(*covers),
        )
        .order_by(AlertRule.id)
    )
    return list(await session.scalars(statement)), team_id


def _subject(agent_id: int | None, team_id: int | None, action_type: str) -> Subject:
    key = (
        f"agent:{agent_id}:{action_type}" if agent_id is not None else f"organization:{action_type}"
    )
    return Subject(key, team_id, agent_id, action_type)


async def _debiased_error(session: AsyncSession, event: Event) -> float | None:
    data = event.data
    scope_key = f"agent:{data['agentId']}" if data.get("agentId") is not None else "organization"
    evidence = await session.scalar(
        select(CalibrationVerdict.evidence).where(
            CalibrationVerdict.organization_id == event.organization_id,
            CalibrationVerdict.scope_key == scope_key,
            CalibrationVerdict.action_type == data["actionType"],
        )
    )
    value = (evidence or {}).get("debiasedError")
    return float(value) if value is not None else None


async def alerts_from_calibration(
    session: AsyncSession, events: Sequence[Event], *, now: dt.datetime
) -> int:
    """Fire or clear the calibration rules' alerts on `calibration.changed` events."""
    changes = 0
    for event in events:
        if event.name != "calibration.changed":
            continue
        data = event.data
        agent_id, action_type = data.get("agentId"), data["actionType"]
        rules, team_id = await _rules_for(
            session, RuleKind.CALIBRATION, event.organization_id, agent_id, action_type
        )
        if not rules:
            continue
        error = await _debiased_error(session, event)
        for rule in rules:
            verdict_bad = data["verdict"] in MISCALIBRATED
            error_bad = rule.threshold is not None and error is not None and error > rule.threshold
            holds = verdict_bad or error_bad
            evidence: dict[str, Any] = {
                "verdict": data["verdict"],
                "previousVerdict": data.get("previousVerdict"),
                "n": data.get("n"),
                "debiasedError": error,
                "threshold": rule.threshold,
                "stream": event.stream,
                "version": event.version,
                "agentId": agent_id,
                "actionType": action_type,
            }
            who = f"agent {agent_id}" if agent_id is not None else "the organisation"
            judgement = Judgement(
                holds=holds,
                cleared=not holds,
                observed=error,
                expected=rule.threshold,
                message=f"{action_type} calibration of {who} is {data['verdict']}"
                + (f" (debiased error {error:.3f})" if error is not None else ""),
                evidence=evidence,
            )
            changes += (
                await apply_judgement(
                    session, rule, _subject(agent_id, team_id, action_type), judgement, now=now
                )
                is not None
            )
    return changes


async def alerts_from_policy(
    session: AsyncSession, events: Sequence[Event], *, now: dt.datetime
) -> int:
    """Raise the policy rules' notices on `policy.changed` events: automation moved the
    thresholds, or a person froze or rolled back the policy."""
    changes = 0
    for event in events:
        if event.name != "policy.changed":
            continue
        data = event.data
        by_system = data.get("changedBy") == "system"
        if not by_system and not data.get("frozen"):
            continue  # a person released a policy: nothing to warn of
        agent_id, action_type = int(data["agentId"]), data["actionType"]
        rules, team_id = await _rules_for(
            session, RuleKind.POLICY, event.organization_id, agent_id, action_type
        )
        if not rules:
            continue
        change = await session.scalar(
            select(PolicyChange).where(
                PolicyChange.organization_id == event.organization_id,
                PolicyChange.agent_id == agent_id,
                PolicyChange.action_type == action_type,
                PolicyChange.version == data["policyVersion"],
            )
        )
        what = "automation moved" if by_system else "a person froze or rolled back"
        evidence = {
            "agentId": agent_id,
            "actionType": action_type,
            "policyVersion": data["policyVersion"],
            "escalateBelow": data["escalateBelow"],
            "autonomousAbove": data["autonomousAbove"],
            "frozen": data["frozen"],
            "changedBy": data.get("changedBy"),
            "policyChangeId": change.id if change is not None else None,
            "previousEscalateBelow": change.previous_escalate_below if change else None,
            "previousAutonomousAbove": change.previous_autonomous_above if change else None,
            "reason": change.reason if change is not None else None,
        }
        judgement = Judgement(
            holds=True,
            cleared=True,
            observed=data["autonomousAbove"],
            expected=change.previous_autonomous_above if change is not None else None,
            message=f"{what} the {action_type} policy of agent {agent_id} (version "
            f"{data['policyVersion']}: escalate below {data['escalateBelow']:.2f}, act from "
            f"{data['autonomousAbove']:.2f})",
            evidence=evidence,
        )
        for rule in rules:
            subject = _subject(agent_id, team_id, action_type)
            changes += await fire_notice(session, rule, subject, judgement, now=now) is not None
    return changes
