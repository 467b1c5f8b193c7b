"""Use cases of calibration: re-assessing a scope after outcomes, the map in force, overrides."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.calibration import CalibrationStats
from analytics_engine.policy import PolicyThresholds, adjust_policy
from analytics_engine.recalibration import RecalibrationMap, fit_recalibration
from analytics_engine.verdict import Verdict, VerdictKind, assess
from backend.auth.viewer import Viewer, ViewerRole, scoped
from backend.calibration.models import AgentPolicy, CalibrationVerdict, PolicyChange
from backend.calibration.policy import change_policy, get_or_create_policy, policy_defaults
from backend.calibration.rollup import load_stats
from backend.database import dialect_insert, utcnow
from backend.errors import DomainError, ErrorCode, NotFoundError
from backend.events.service import record_event
from backend.orgs.models import Organization
from backend.outcomes.rules import rules_for

TRAILING_DAYS = 90
# A map "changes" when it moves some confidence by more than this (or changes method).
MAP_TOLERANCE = 0.01


@dataclass(frozen=True)
class Assessment:
    stats: CalibrationStats
    verdict: Verdict
    recalibration: RecalibrationMap


def assess_stats(stats: CalibrationStats) -> Assessment:
    return Assessment(stats, assess(stats), fit_recalibration(stats))


def verdict_evidence(verdict: Verdict) -> dict[str, Any]:
    def number(value: float) -> float | None:
        return None if math.isnan(value) else round(float(value), 6)

    return {
        "kind": verdict.kind.value,
        "n": number(verdict.n),
        "z": number(verdict.z),
        "pValue": number(verdict.p_value),
        "oeZ": number(verdict.oe_z),
        "observedExpected": number(verdict.observed_expected),
        "oeLower": number(verdict.oe_lower),
        "oeUpper": number(verdict.oe_upper),
        "debiasedError": number(verdict.debiased_error),
        "reason": verdict.reason,
    }


def maps_differ(old: dict[str, Any], new: RecalibrationMap) -> bool:
    if not old:
        return True
    previous = RecalibrationMap.from_dict(old)
    if previous.method != new.method:
        return True
    grid = np.linspace(0.0, 1.0, 41)
    return bool(np.max(np.abs(previous.apply(grid) - new.apply(grid))) > MAP_TOLERANCE)


async def _store_verdict(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_id: int | None,
    action_type: str,
    assessment: Assessment,
) -> bool:
    """Keep the scope's latest verdict and map; queue `calibration.changed` when either moved."""
    scope_key = f"agent:{agent_id}" if agent_id is not None else "organization"
    current = await session.scalar(
        select(CalibrationVerdict).where(
            CalibrationVerdict.organization_id == organization_id,
            CalibrationVerdict.scope_key == scope_key,
            CalibrationVerdict.action_type == action_type,
        )
    )
    kind = assessment.verdict.kind.value
    if (
        current is not None
        and current.verdict == kind
        and not maps_differ(current.recalibration, assessment.recalibration)
    ):
        current.n = assessment.stats.n
        current.evidence = verdict_evidence(assessment.verdict)
        return False
    values = {
        "organization_id": organization_id,
        "scope": "agent" if agent_id is not None else "organization",
        "agent_id": agent_id,
        "scope_key": scope_key,
        "action_type": action_type,
        "verdict": kind,
        "evidence": verdict_evidence(assessment.verdict),
        "recalibration": assessment.recalibration.to_dict(),
        "n": assessment.stats.n,
        "assessed_at": utcnow(),
    }
    insert = dialect_insert(session, CalibrationVerdict)
    await session.execute(
        insert.values(**values).on_conflict_do_update(
            index_elements=["organization_id", "scope_key", "action_type"],
            set_={k: insert.excluded[k] for k in values if k not in ("organization_id",)},
        )
    )
    await record_event(
        session,
        name="calibration.changed",
        organization_id=organization_id,
        stream=f"calibration:{scope_key}:{action_type}",
        data={
            "scope": values["scope"],
            "agentId": agent_id,
            "actionType": action_type,
            "verdict": kind,
            "previousVerdict": current.verdict if current is not None else None,
            "n": assessment.stats.n,
            "method": assessment.recalibration.method,
        },
    )
    return True


def assessment_days(
    config: dict[str, Any] | None, action_type: str, today: dt.date
) -> tuple[dt.date, dt.date]:
    """The trailing window of matured days: ending the day before the calibrating outcome's
    window could still be open, reaching back TRAILING_DAYS from there."""
    rules = rules_for(config)
    lag = rules.windows[rules.calibrating_plan(action_type).window]
    until = today - dt.timedelta(days=lag.days + (1 if lag.seconds == 0 else 2))
    return until - dt.timedelta(days=TRAILING_DAYS), until


async def reassess(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_id: int,
    action_type: str,
    today: dt.date,
    include_organization: bool = True,
) -> None:
    """Re-assess an agent's action type (and the organisation's) over the trailing window, store
    what changed, and move the agent's policy when calibration says so (unless frozen).

    Only days whose outcome windows have all closed are judged: a reply resolves within hours
    but "no reply" only when the window ends, so the open days would look underconfident.
    """
    config = await session.scalar(
        select(Organization.config).where(Organization.id == organization_id)
    )
    since, until = assessment_days(config, action_type, today)
    stats = await load_stats(
        session, organization_id=organization_id, action_type=action_type,
        agent_ids=[agent_id], since=since, until=until,
    )  # fmt: skip
    assessment = assess_stats(stats)
    await _store_verdict(
        session, organization_id=organization_id, agent_id=agent_id,
        action_type=action_type, assessment=assessment,
    )  # fmt: skip
    policy = await get_or_create_policy(
        session, organization_id=organization_id, agent_id=agent_id, action_type=action_type
    )
    if not policy.frozen:
        adjustment = adjust_policy(
            PolicyThresholds(policy.escalate_below, policy.autonomous_above),
            stats,
            policy_defaults(action_type, config).target,
            verdict=assessment.verdict,
            recalibration=assessment.recalibration,
            subject=f"{action_type.replace('_', ' ').capitalize()} actions of agent {agent_id}",
        )
        if adjustment.changed:
            await change_policy(
                session, policy, thresholds=adjustment.thresholds, reason=adjustment.reason,
                evidence=verdict_evidence(assessment.verdict),
                recalibration=assessment.recalibration.to_dict(),
            )  # fmt: skip
    if include_organization:
        org_stats = await load_stats(
            session, organization_id=organization_id, action_type=action_type,
            since=since, until=until,
        )  # fmt: skip
        await _store_verdict(
            session, organization_id=organization_id, agent_id=None,
            action_type=action_type, assessment=assess_stats(org_stats),
        )  # fmt: skip


async def recalibration_in_force(
    session: AsyncSession, *, organization_id: int, agent_id: int, action_type: str
) -> RecalibrationMap:
    """The map that turns the agent's raw confidence into a calibrated one: the agent's own when
    it has enough outcomes, else the organisation's for the action type, else the identity."""
    rows = (
        await session.scalars(
            select(CalibrationVerdict).where(
                CalibrationVerdict.organization_id == organization_id,
                CalibrationVerdict.action_type == action_type,
                CalibrationVerdict.scope_key.in_([f"agent:{agent_id}", "organization"]),
            )
        )
    ).all()
    by_scope = {row.scope_key: row for row in rows}
    for key in (f"agent:{agent_id}", "organization"):
        row = by_scope.get(key)
        if row is not None and row.verdict != VerdictKind.INSUFFICIENT_DATA and row.recalibration:
            return RecalibrationMap.from_dict(row.recalibration)
    return RecalibrationMap.identity()


async def _policy_in_scope(
    session: AsyncSession, viewer: Viewer, *, agent_id: int, action_type: str
) -> AgentPolicy:
    policy = await session.scalar(
        scoped(select(AgentPolicy), AgentPolicy, viewer).where(
            AgentPolicy.agent_id == agent_id, AgentPolicy.action_type == action_type
        )
    )
    if policy is None:
        raise NotFoundError("policy", field="agentId")
    return policy


def _require_policy_editor(viewer: Viewer) -> None:
    viewer.require_role(ViewerRole.MANAGER, ViewerRole.EXECUTIVE, ViewerRole.ADMIN)


async def freeze_policy(
    session: AsyncSession, viewer: Viewer, *, agent_id: int, action_type: str, frozen: bool,
    reason: str,
) -> AgentPolicy:  # fmt: skip
    """A manager pins (or releases) a policy; automation never moves a frozen policy."""
    _require_policy_editor(viewer)
    reason = reason.strip()
    if not reason:
        raise DomainError(ErrorCode.REQUIRED, "say why the policy is (un)frozen", field="reason")
    policy = await _policy_in_scope(session, viewer, agent_id=agent_id, action_type=action_type)
    if policy.frozen == frozen:
        return policy
    verb = "frozen" if frozen else "unfrozen"
    await change_policy(
        session, policy,
        thresholds=PolicyThresholds(policy.escalate_below, policy.autonomous_above),
        reason=f"{verb} by a person: {reason}", changed_by_user_id=viewer.user_id,
        frozen=frozen,
    )  # fmt: skip
    return policy


async def rollback_policy(
    session: AsyncSession, viewer: Viewer, *, agent_id: int, action_type: str, version: int,
    reason: str, freeze: bool = True,
) -> AgentPolicy:  # fmt: skip
    """Restore the thresholds of an earlier version (as a new version, audited). The policy is
    frozen by default, so automation does not undo the rollback at the next outcome."""
    _require_policy_editor(viewer)
    policy = await _policy_in_scope(session, viewer, agent_id=agent_id, action_type=action_type)
    target = await session.scalar(
        select(PolicyChange).where(
            PolicyChange.policy_id == policy.id, PolicyChange.version == version
        )
    )
    if target is None:
        raise NotFoundError(f"version {version} of the policy", field="version")
    note = f": {reason.strip()}" if reason.strip() else ""
    await change_policy(
        session, policy,
        thresholds=PolicyThresholds(target.escalate_below, target.autonomous_above),
        reason=f"rolled back to version {version} by a person{note}",
        changed_by_user_id=viewer.user_id, frozen=freeze,
    )  # fmt: skip
    return policy
