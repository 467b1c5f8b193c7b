"""Use cases of calibration: re-assessing a scope after outcomes and storing what changed, and the
recalibration map in force.

What the assessment means for the agent's policy is ``backend.policy.service``'s business."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.calibration import CalibrationStats
from analytics_engine.recalibration import RecalibrationMap, fit_recalibration
from analytics_engine.verdict import Verdict, VerdictKind, assess
from backend.calibration.evidence import verdict_evidence
from backend.calibration.maturity import assessment_days
from backend.calibration.models import CalibrationVerdict
from backend.calibration.rollup import load_stats
from backend.database import dialect_insert, utcnow
from backend.events.service import record_event
from backend.orgs.models import Organization

# A map "changes" when it moves some confidence by more than this (or changes method).
MAP_TOLERANCE = 0.01


@dataclass(frozen=True)
class Assessment:
    """The engine's judgement of one scope over its trailing window, and the organisation's
    configuration it was judged under (which also holds the policy overrides)."""

    stats: CalibrationStats
    verdict: Verdict
    recalibration: RecalibrationMap
    config: Mapping[str, Any] | None = None


def assess_stats(stats: CalibrationStats, config: Mapping[str, Any] | None = None) -> Assessment:
    return Assessment(stats, assess(stats), fit_recalibration(stats), config)


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
    now: dt.datetime | None = None,
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
        "assessed_at": now or utcnow(),
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


async def reassess(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_id: int,
    action_type: str,
    today: dt.date,
    include_organization: bool = True,
    now: dt.datetime | None = None,
) -> Assessment:
    """Re-assess an agent's action type (and the organisation's) over the trailing window, store
    what changed, and return the agent's assessment (for the policy to follow, in the same unit
    of work: ``backend.policy.service.adjust_to_calibration``).

    Only days whose outcome windows have all closed are judged: a reply resolves within hours
    but "no reply" only when the window ends, so the open days would look underconfident.
    A stored verdict is stamped ``now`` (default: the clock; a replay of past days passes its
    own moment).
    """
    config = await session.scalar(
        select(Organization.config).where(Organization.id == organization_id)
    )
    since, until = assessment_days(config, action_type, today)
    stats = await load_stats(
        session,
        organization_id=organization_id,
        action_type=action_type,
        agent_ids=[agent_id],
        since=since,
        until=until,
    )
    assessment = assess_stats(stats, config)
    await _store_verdict(
        session,
        organization_id=organization_id,
        agent_id=agent_id,
        action_type=action_type,
        assessment=assessment,
        now=now,
    )
    if include_organization:
        org_stats = await load_stats(
            session,
            organization_id=organization_id,
            action_type=action_type,
            since=since,
            until=until,
        )
        await _store_verdict(
            session,
            organization_id=organization_id,
            agent_id=None,
            action_type=action_type,
            assessment=assess_stats(org_stats, config),
            now=now,
        )
    return assessment


async def recalibration_in_force(
    session: AsyncSession, *, organization_id: int, agent_id: int, action_type: str
) -> RecalibrationMap:
    """The map that turns the agent's raw confidence into a calibrated one: the agent's own when
    it has enough outcomes, else the organisation's for the action type, else the identity."""
    maps = await recalibrations_in_force(
        session, organization_id=organization_id, policies=[(agent_id, action_type)]
    )
    return maps[(agent_id, action_type)]


async def recalibrations_in_force(
    session: AsyncSession, *, organization_id: int, policies: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], RecalibrationMap]:
    """``recalibration_in_force`` of each (agent id, action type), in one statement."""
    wanted = sorted(set(policies))
    if not wanted:
        return {}
    rows = (
        await session.scalars(
            select(CalibrationVerdict).where(
                CalibrationVerdict.organization_id == organization_id,
                CalibrationVerdict.action_type.in_(sorted({t for _, t in wanted})),
                CalibrationVerdict.scope_key.in_(
                    ["organization", *sorted({f"agent:{a}" for a, _ in wanted})]
                ),
            )
        )
    ).all()
    by_scope = {(row.scope_key, row.action_type): row for row in rows}
    maps = {}
    for agent_id, action_type in wanted:
        maps[(agent_id, action_type)] = RecalibrationMap.identity()
        for key in (f"agent:{agent_id}", "organization"):
            row = by_scope.get((key, action_type))
            if (
                row is not None
                and row.verdict != VerdictKind.INSUFFICIENT_DATA
                and row.recalibration
            ):
                maps[(agent_id, action_type)] = RecalibrationMap.from_dict(row.recalibration)
                break
    return maps
