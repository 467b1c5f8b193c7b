"""Reads of the strategic view: the calibration rollup per (agent, bin) of one action type,
the agents' policies, and the deals, stage moves and stage-progression confidences the win
model learns from. Every statement is scoped to the viewer (and its organisation)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.calibration.models import CalibrationStat
from backend.crm.models import Deal, DealStage
from backend.outcomes.rules import PIPELINE
from backend.policy.models import AgentPolicy
from backend.signals.models import Signal
from backend.viewer import Viewer, scoped

# The win model learns from at most this many closed deals, the latest first (by id).
MAX_CLOSED_DEALS = 2000
CLOSED = (DealStage.CLOSED_WON.value, DealStage.CLOSED_LOST.value)


@dataclass(frozen=True)
class Cell:
    """One agent's decided outcomes in one confidence bin: count, sums of raw p and of y."""

    agent_id: int
    bin: int
    count: float
    sum_p: float
    sum_y: float


async def calibration_cells(
    session: AsyncSession, viewer: Viewer, *, action_type: str, since: dt.date, until: dt.date
) -> list[Cell]:
    """The calibration rollup of ``action_type`` summed per (agent, bin) over the days."""
    c = CalibrationStat
    statement = scoped(
        select(c.agent_id, c.bin, func.sum(c.count), func.sum(c.sum_p), func.sum(c.sum_y))
        .where(c.action_type == action_type, c.day >= since, c.day <= until)
        .group_by(c.agent_id, c.bin)
        .order_by(c.agent_id, c.bin),
        c,
        viewer,
    )
    rows = await session.execute(statement)
    return [
        Cell(int(a), int(b), float(n or 0), float(p or 0), float(y or 0))
        for a, b, n, p, y in rows
        if n
    ]


async def policy_thresholds(
    session: AsyncSession, viewer: Viewer, *, action_type: str
) -> dict[int, tuple[float, float]]:
    """Per agent: (escalate_below, autonomous_above) of its policy for the type."""
    p = AgentPolicy
    rows = await session.execute(
        scoped(
            select(p.agent_id, p.escalate_below, p.autonomous_above).where(
                p.action_type == action_type
            ),
            p,
            viewer,
        )
    )
    return {int(a): (float(e), float(x)) for a, e, x in rows}


async def deal_in_scope(session: AsyncSession, viewer: Viewer, deal_id: int) -> Deal | None:
    return await session.scalar(scoped(select(Deal), Deal, viewer).where(Deal.id == deal_id))


@dataclass(frozen=True)
class DealHistory:
    """What the win model knows of a deal: its stage now, the furthest pipeline stage it
    reached (from its stage moves), and its latest stage-progression action (agent, raw
    confidence), if any."""

    deal_id: int
    stage: str
    furthest: str | None
    agent_id: int | None
    confidence: float | None


async def closed_deal_ids(session: AsyncSession, viewer: Viewer) -> list[int]:
    """The organisation's closed deals the viewer may read, latest (by id) first, bounded."""
    statement = scoped(select(Deal.id), Deal, viewer).where(Deal.stage.in_(CLOSED))
    rows = await session.scalars(statement.order_by(Deal.id.desc()).limit(MAX_CLOSED_DEALS))
    return sorted(rows)


async def deal_histories(
    session: AsyncSession, viewer: Viewer, deal_ids: Iterable[int], *, until: dt.datetime
) -> list[DealHistory]:
    """Each deal's history (three statements, whatever the number of deals)."""
    ids = sorted(set(deal_ids))
    if not ids:
        return []
    found = await session.execute(
        scoped(select(Deal.id, Deal.stage), Deal, viewer).where(Deal.id.in_(ids))
    )
    stages = {int(deal_id): str(stage) for deal_id, stage in found}
    moves = await session.execute(
        scoped(select(Signal.deal_id, Signal.payload), Signal, viewer).where(
            Signal.deal_id.in_(ids),
            Signal.kind == "deal.stage_changed",
            Signal.occurred_at <= until,
        )
    )
    furthest: dict[int, int] = {}
    for deal_id, payload in moves:
        for key in ("from_stage", "to_stage"):
            stage = (payload or {}).get(key)
            if stage in PIPELINE:
                furthest[deal_id] = max(furthest.get(deal_id, 0), PIPELINE.index(stage))
    actions = await session.execute(
        scoped(
            select(AgentAction.deal_id, AgentAction.agent_id, AgentAction.confidence),
            AgentAction,
            viewer,
        )
        .where(
            AgentAction.deal_id.in_(ids),
            AgentAction.action_type == "stage_progression",
            AgentAction.occurred_at <= until,
        )
        .order_by(AgentAction.deal_id, AgentAction.occurred_at, AgentAction.id)
    )
    latest = {
        int(d): (int(a), float(c)) for d, a, c in actions if d is not None
    }  # the last row per deal wins
    out = []
    for deal_id in ids:
        if deal_id not in stages:
            continue
        agent, confidence = latest.get(deal_id, (None, None))
        reached = furthest.get(deal_id)
        out.append(
            DealHistory(
                deal_id,
                stages[deal_id],
                PIPELINE[reached] if reached is not None else None,
                agent,
                confidence,
            )
        )
    return out
