"""The deals' daily activity (``deal_activity``): how many of the CRM signals matched to an
agent moved each deal forward, won it or lost it, per UTC day. Each stored signal batch adds
to it with one atomic upsert per touched row in its own unit of work; ``rebuild`` counts the
table anew from the signals. A dashboard counts each deal once per agent or team over its
range, however many signals it had."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Delete, Insert, and_, case, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.crm.models import DealStage
from backend.database import add_to_rollup, utc_date, utc_day
from backend.outcomes.rules import PIPELINE
from backend.signals.models import DealActivity, Signal, SignalKind

KEY = ("organization_id", "agent_id", "day", "deal_id")
SUMS = ("progressed", "won", "lost")
DEAL_KINDS = (
    SignalKind.DEAL_STAGE_CHANGED.value,
    SignalKind.OPPORTUNITY_CREATED.value,
    SignalKind.DEAL_WON.value,
    SignalKind.DEAL_LOST.value,
)
_POSITIONS = {stage: i for i, stage in enumerate(PIPELINE)}


def deal_moves(kind: str, payload: Mapping[str, Any]) -> tuple[int, int, int]:
    """What one signal says of its deal: (moved forward, won, lost), each 0 or 1."""
    changed = kind == SignalKind.DEAL_STAGE_CHANGED
    to_stage, from_stage = payload.get("to_stage"), payload.get("from_stage")
    won = kind == SignalKind.DEAL_WON or (changed and to_stage == DealStage.CLOSED_WON)
    lost = kind == SignalKind.DEAL_LOST or (changed and to_stage == DealStage.CLOSED_LOST)
    forward = (
        won
        or kind == SignalKind.OPPORTUNITY_CREATED
        or (
            changed
            and to_stage in _POSITIONS
            and from_stage in _POSITIONS
            and _POSITIONS[to_stage] > _POSITIONS[from_stage]
        )
    )
    return int(forward), int(won), int(lost)


async def add_signals(session: AsyncSession, rows: Iterable[Mapping[str, Any]]) -> None:
    """Count the deal signals among ``rows`` (signal rows just stored, as dicts)."""
    increments = [
        (
            (r["organization_id"], r["agent_id"], utc_date(r["occurred_at"]), r["deal_id"]),
            deal_moves(r["kind"], r["payload"] or {}),
        )
        for r in rows
        if r["kind"] in DEAL_KINDS and r["deal_id"] is not None and r["agent_id"] is not None
    ]
    await add_to_rollup(session, DealActivity, increments, key=KEY, sums=SUMS)


def rebuild(dialect: str) -> tuple[Delete, Insert]:
    """The statements that recount every row from the signals (as ``deal_moves`` does)."""
    s = Signal
    kind = s.kind
    to_stage, from_stage = s.payload["to_stage"].as_string(), s.payload["from_stage"].as_string()
    changed = kind == SignalKind.DEAL_STAGE_CHANGED.value
    won = or_(
        kind == SignalKind.DEAL_WON.value, and_(changed, to_stage == DealStage.CLOSED_WON.value)
    )
    lost = or_(
        kind == SignalKind.DEAL_LOST.value, and_(changed, to_stage == DealStage.CLOSED_LOST.value)
    )
    forward = or_(
        won,
        kind == SignalKind.OPPORTUNITY_CREATED.value,
        and_(changed, case(_POSITIONS, value=to_stage) > case(_POSITIONS, value=from_stage)),
    )
    counted = [func.sum(case((c, 1), else_=0)) for c in (forward, won, lost)]
    day = utc_day(dialect, s.occurred_at)
    sums = (
        select(s.organization_id, s.agent_id, day, s.deal_id, *counted)
        .where(kind.in_(DEAL_KINDS), s.deal_id.is_not(None), s.agent_id.is_not(None))
        .group_by(s.organization_id, s.agent_id, day, s.deal_id)
        .having(or_(*(c > 0 for c in counted)))
    )
    return delete(DealActivity), insert(DealActivity).from_select([*KEY, *SUMS], sums)
