"""Use cases of calibration: re-assessing a scope after outcomes and storing what changed, and the
recalibration map in force.

What the assessment means for the agent's policy is ``backend.policy.service``'s business."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.calibration import CalibrationStats
from analytics_engine.monitoring import CalibrationMonitor
from analytics_engine.recalibration import RecalibrationMap, fit_recalibration
from analytics_engine.verdict import Verdict, VerdictKind, assess, confirm
from backend.agents.models import Agent
from backend.calibration.drift import Change, load_changes
from backend.calibration.evidence import verdict_evidence
from backend.calibration.maturity import assessment_days
from backend.calibration.models import CALIBRATION_BINS, CalibrationVerdict
from backend.calibration.monitors import load_monitors, scope_key
from backend.calibration.pooling import Siblings, choose_agent_map, newcomer_map
from backend.calibration.rollup import load_agents_stats
from backend.database import dialect_insert, utcnow
from backend.events.service import record_event
from backend.orgs.models import Organization

# A map "changes" when it moves some confidence by more than this (or changes method).
MAP_TOLERANCE = 0.01


@dataclass(frozen=True)
class Assessment:
    """The engine's judgement of one scope over its trailing window, and the organisation's
    configuration it was judged under (which also holds the policy overrides). ``basis`` says
    why the map (``backend.calibration.pooling.MapChoice``; empty when fitted on the scope
    alone)."""

    stats: CalibrationStats
    verdict: Verdict
    recalibration: RecalibrationMap
    config: Mapping[str, Any] | None = None
    basis: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MapInForce(RecalibrationMap):
    """A stored map and why it is in force (``basis``, as ``Assessment.basis``; empty for a
    map stored before pooling)."""

    basis: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, recalibration: Mapping[str, Any], basis: Mapping[str, Any]) -> MapInForce:
        m = RecalibrationMap.from_dict(recalibration)
        return cls(m.method, m.xs, m.ys, m.intercept, m.slope, m.n, basis=dict(basis or {}))


NOTHING_FITTED = {
    "source": "unpooled",
    "pooledWeight": 0.0,
    "reason": "No map fitted yet for this agent or its organisation: the raw confidence.",
}


def assess_stats(stats: CalibrationStats, config: Mapping[str, Any] | None = None) -> Assessment:
    """The scope judged on its own outcomes alone, its map ``fit_recalibration``'s."""
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
    current: CalibrationVerdict | None,
    now: dt.datetime | None = None,
) -> bool:
    """Keep the scope's latest verdict and map (``current``: the one stored); queue
    `calibration.changed` when either moved."""
    key = scope_key(agent_id)
    kind = assessment.verdict.kind.value
    if (
        current is not None
        and current.verdict == kind
        and not maps_differ(current.recalibration, assessment.recalibration)
    ):
        current.n = assessment.stats.n
        current.evidence = verdict_evidence(assessment.verdict)
        current.recalibration_basis = dict(assessment.basis)
        return False
    values = {
        "organization_id": organization_id,
        "scope": "agent" if agent_id is not None else "organization",
        "agent_id": agent_id,
        "scope_key": key,
        "action_type": action_type,
        "verdict": kind,
        "evidence": verdict_evidence(assessment.verdict),
        "recalibration": assessment.recalibration.to_dict(),
        "recalibration_basis": dict(assessment.basis),
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
        stream=f"calibration:{key}:{action_type}",
        data={
            "scope": values["scope"],
            "agentId": agent_id,
            "actionType": action_type,
            "verdict": kind,
            "previousVerdict": current.verdict if current is not None else None,
            "n": assessment.stats.n,
            "method": assessment.recalibration.method,
            "source": assessment.basis.get("source"),
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
    """``reassess_agents`` of one agent: its assessment."""
    assessments = await reassess_agents(
        session,
        organization_id=organization_id,
        agent_ids=[agent_id],
        action_type=action_type,
        today=today,
        include_organization=include_organization,
        now=now,
    )
    return assessments[agent_id]


async def reassess_agents(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_ids: Iterable[int],
    action_type: str,
    today: dt.date,
    include_organization: bool = True,
    now: dt.datetime | None = None,
) -> dict[int, Assessment]:
    """Re-assess agents' action type (and the organisation's) over the trailing window, store
    what changed, and return each agent's assessment. Each verdict acts only once the scope's
    anytime-valid monitor confirms it (``monitors``: fed before, in the same unit of work, by
    ``backend.learning.follow_calibration``).

    Only days whose outcome windows have all closed are judged: a reply resolves within hours
    but "no reply" only when the window ends, so the open days would look underconfident.
    A stored verdict is stamped ``now`` (default: the clock; a replay of past days passes its
    own moment).

    An agent's map is the one with the best leave-one-out evidence among its own fits and its
    map pooled with its siblings' (``backend.calibration.pooling``), stored with why; the
    organisation's is the pooled map a brand-new agent of the action type starts from. The
    agents of the action type are read, and their fits made, once for all ``agent_ids``.
    """
    config = await session.scalar(
        select(Organization.config).where(Organization.id == organization_id)
    )
    since, until = assessment_days(config, action_type, today)
    # An agent found changed counts from the day of its change (backend.calibration.drift).
    changes = await load_changes(
        session, organization_id=organization_id, action_type=action_type, window_since=since
    )
    # Every agent of the action type in one grouped query: the agents, their siblings and
    # (summed) the organisation.
    agents = await load_agents_stats(
        session,
        organization_id=organization_id,
        action_type=action_type,
        since=since,
        until=until,
        since_by_agent={a: change.since for a, change in changes.items()},
    )
    teams = {
        agent_id: team_id
        for agent_id, team_id in await session.execute(
            select(Agent.id, Agent.team_id).where(Agent.organization_id == organization_id)
        )
    }
    wanted = sorted(set(agent_ids))
    stored = {
        row.scope_key: row
        for row in await session.scalars(
            select(CalibrationVerdict).where(
                CalibrationVerdict.organization_id == organization_id,
                CalibrationVerdict.action_type == action_type,
                CalibrationVerdict.scope_key.in_(
                    [scope_key(None), *(scope_key(a) for a in wanted)]
                ),
            )
        )
    }
    monitors = await load_monitors(
        session,
        organization_id=organization_id,
        action_type=action_type,
        agent_ids=[None, *wanted],
    )
    # The fits are numerical work (about 10-20 ms an agent): off the event loop, so that the
    # process's requests are not held up while a batch of outcomes is re-assessed.
    assessments, organization = await asyncio.to_thread(
        _judge,
        agents,
        teams,
        wanted,
        config,
        monitors,
        changes,
        include_organization=include_organization,
    )
    for agent_id, assessment in assessments.items():
        await _store_verdict(
            session,
            organization_id=organization_id,
            agent_id=agent_id,
            action_type=action_type,
            assessment=assessment,
            current=stored.get(scope_key(agent_id)),
            now=now,
        )
    if organization is not None:
        await _store_verdict(
            session,
            organization_id=organization_id,
            agent_id=None,
            action_type=action_type,
            assessment=organization,
            current=stored.get(scope_key(None)),
            now=now,
        )
    return assessments


def _judge(
    agents: Mapping[int, CalibrationStats],
    teams: Mapping[int, int],
    wanted: list[int],
    config: Mapping[str, Any] | None,
    monitors: Mapping[int | None, CalibrationMonitor],
    changes: Mapping[int, Change],
    *,
    include_organization: bool,
) -> tuple[dict[int, Assessment], Assessment | None]:
    """Each wanted agent's assessment, its map pooled with its siblings' (leaning toward its
    team's as much as the teams differ) or its own; after a change, its map on the days since
    shrunk toward its map before; and the organisation's (its map the one a brand-new agent
    starts from), when asked. Each verdict acts only once its scope's e-process confirms it
    (``verdict.confirm``)."""
    siblings = Siblings(agents, teams)
    assessments = {}
    for agent_id in wanted:
        stats = agents.get(agent_id) or CalibrationStats.empty(CALIBRATION_BINS)
        change = changes.get(agent_id)
        if change is not None and change.prior is not None:
            chosen = choose_agent_map(stats, change.prior, toward="past")
        else:
            prior = siblings.prior(excluding=agent_id)
            chosen = choose_agent_map(stats, prior, toward=siblings.toward(agent_id))
        verdict = confirm(assess(stats), monitors[agent_id])
        assessments[agent_id] = Assessment(stats, verdict, chosen.map, config, chosen.basis)
    if not include_organization:
        return assessments, None
    org_stats = CalibrationStats.empty(CALIBRATION_BINS)
    for each in agents.values():
        org_stats = org_stats.merge(each)
    newcomer = newcomer_map(siblings.prior())
    verdict = confirm(assess(org_stats), monitors[None])
    organization = (
        Assessment(org_stats, verdict, newcomer.map, config, newcomer.basis)
        if newcomer is not None
        else replace(assess_stats(org_stats, config), verdict=verdict)
    )
    return assessments, organization


async def recalibration_in_force(
    session: AsyncSession, *, organization_id: int, agent_id: int, action_type: str
) -> MapInForce:
    """The map that turns the agent's raw confidence into a calibrated one: the agent's own when
    it was pooled with its siblings', was judged unlike them, or has enough outcomes; else the
    organisation's for the action type (the pooled map a new agent starts from); else the
    identity."""
    maps = await recalibrations_in_force(
        session, organization_id=organization_id, policies=[(agent_id, action_type)]
    )
    return maps[(agent_id, action_type)]


def _usable(row: CalibrationVerdict) -> bool:
    """A stored map is used with enough outcomes, or when pooling chose it (a pooled map holds
    the siblings' evidence; an agent's own map after a conflict is what tells it apart)."""
    source = (row.recalibration_basis or {}).get("source")
    if row.scope == "organization":
        return row.verdict != VerdictKind.INSUFFICIENT_DATA or source == "pooled"
    return row.verdict != VerdictKind.INSUFFICIENT_DATA or source in ("pooled", "own")


async def recalibrations_in_force(
    session: AsyncSession, *, organization_id: int, policies: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], MapInForce]:
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
                    [scope_key(None), *sorted({scope_key(a) for a, _ in wanted})]
                ),
            )
        )
    ).all()
    by_scope = {(row.scope_key, row.action_type): row for row in rows}
    maps = {}
    for agent_id, action_type in wanted:
        maps[(agent_id, action_type)] = MapInForce("identity", basis=NOTHING_FITTED)
        for key in (scope_key(agent_id), scope_key(None)):
            row = by_scope.get((key, action_type))
            if row is not None and row.recalibration and _usable(row):
                maps[(agent_id, action_type)] = MapInForce.of(
                    row.recalibration, row.recalibration_basis
                )
                break
    return maps
