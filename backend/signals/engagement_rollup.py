"""The e-mails' daily engagement (``email_engagement``): the opens and clicks matched to an
agent per UTC day of the event, and how many of them software made (``Signal.machine``, set
by ``backend.signals.engagement`` when the signal is stored). Each stored signal batch adds to
it with one atomic upsert per touched row in its own unit of work; ``rebuild`` counts the table
anew from the signals. A retried signal is not stored again, so it counts once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Delete, Insert, and_, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.database import add_to_rollup, utc_date, utc_day
from backend.signals.engagement import CLICK, ENGAGEMENT_KINDS, OPEN
from backend.signals.models import EmailEngagement, Signal

KEY = ("organization_id", "agent_id", "day")
SUMS = ("opens", "machine_opens", "clicks", "machine_clicks")


def engagement_counts(kind: str, machine: bool) -> tuple[int, int, int, int]:
    """What one signal adds: (opens, machine opens, clicks, machine clicks), each 0 or 1."""
    opened, clicked = kind == OPEN, kind == CLICK
    return int(opened), int(opened and machine), int(clicked), int(clicked and machine)


async def add_signals(session: AsyncSession, rows: Iterable[Mapping[str, Any]]) -> None:
    """Count the opens and clicks among ``rows`` (signal rows just stored, as dicts) that were
    matched to an agent."""
    increments = [
        (
            (r["organization_id"], r["agent_id"], utc_date(r["occurred_at"])),
            engagement_counts(r["kind"], bool(r["machine"])),
        )
        for r in rows
        if r["kind"] in ENGAGEMENT_KINDS and r["agent_id"] is not None
    ]
    await add_to_rollup(session, EmailEngagement, increments, key=KEY, sums=SUMS)


def rebuild(dialect: str) -> tuple[Delete, Insert]:
    """The statements that recount every row from the signals (as ``engagement_counts``)."""
    s = Signal
    opened, clicked = s.kind == OPEN, s.kind == CLICK
    conditions = (opened, and_(opened, s.machine), clicked, and_(clicked, s.machine))
    day = utc_day(dialect, s.occurred_at)
    sums = (
        select(
            s.organization_id,
            s.agent_id,
            day,
            *(func.sum(case((c, 1), else_=0)) for c in conditions),
        )
        .where(s.kind.in_(ENGAGEMENT_KINDS), s.agent_id.is_not(None))
        .group_by(s.organization_id, s.agent_id, day)
    )
    return delete(EmailEngagement), insert(EmailEngagement).from_select([*KEY, *SUMS], sums)
