"""Each scope's anytime-valid calibration monitor (``analytics_engine.monitoring``): fed the
decided outcomes of the days that matured since it was last fed, in the order the actions were
taken, and read by the re-assessment that confirms a verdict (``service.reassess_agents``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.monitoring import CalibrationMonitor
from backend.calibration.models import CalibrationMonitorState
from backend.database import utcnow


def scope_key(agent_id: int | None) -> str:
    """ "agent:<id>" or "organization": one unique key for both scopes."""
    return f"agent:{agent_id}" if agent_id is not None else "organization"


async def monitor_rows(
    session: AsyncSession, organization_id: int, action_type: str, keys: Iterable[str]
) -> dict[str, CalibrationMonitorState]:
    rows = await session.scalars(
        select(CalibrationMonitorState).where(
            CalibrationMonitorState.organization_id == organization_id,
            CalibrationMonitorState.action_type == action_type,
            CalibrationMonitorState.scope_key.in_(sorted(set(keys))),
        )
    )
    return {row.scope_key: row for row in rows}


async def monitors_through(
    session: AsyncSession,
    *,
    organization_id: int,
    action_type: str,
    agent_ids: Iterable[int | None],
) -> dict[int | None, dt.date | None]:
    """The last day each scope's monitor was fed (scopes never fed are absent); ``None`` in
    ``agent_ids`` is the organisation."""
    wanted = {scope_key(a): a for a in agent_ids}
    rows = await monitor_rows(session, organization_id, action_type, wanted)
    return {wanted[key]: row.through for key, row in rows.items()}


async def load_monitors(
    session: AsyncSession,
    *,
    organization_id: int,
    action_type: str,
    agent_ids: Iterable[int | None],
) -> dict[int | None, CalibrationMonitor]:
    """Each scope's monitor as it stands (a fresh one where none was fed yet)."""
    wanted = {scope_key(a): a for a in agent_ids}
    rows = await monitor_rows(session, organization_id, action_type, wanted)
    return {agent_id: _reading(rows.get(key)).monitor for key, agent_id in wanted.items()}


@dataclass(frozen=True)
class MonitorReading:
    """A scope's monitor as it stands, and the last matured day it was fed."""

    monitor: CalibrationMonitor
    through: dt.date | None


def _reading(row: CalibrationMonitorState | None) -> MonitorReading:
    """A stored monitor; a fresh one, never fed, where there is none yet."""
    if row is None or not row.state:
        return MonitorReading(CalibrationMonitor(), None)
    return MonitorReading(CalibrationMonitor.from_dict(row.state), row.through)


async def monitor_reading(
    session: AsyncSession, *, organization_id: int, action_type: str, agent_id: int | None
) -> MonitorReading:
    """One scope's monitor (``agent_id`` None: the organisation's); a fresh one, never fed,
    where there is none yet."""
    key = scope_key(agent_id)
    return _reading((await monitor_rows(session, organization_id, action_type, [key])).get(key))


async def feed_monitors(
    session: AsyncSession,
    *,
    organization_id: int,
    action_type: str,
    outcomes: Mapping[int | None, tuple[Sequence[float], Sequence[float]]],
    through: dt.date,
    now: dt.datetime | None = None,
) -> None:
    """Feed each scope (``None``: the organisation) its outcomes ``(p, y)``, in the actions'
    order, and mark it fed up to ``through``."""
    if not outcomes:  # nothing matured since the last feed: the usual case, nothing to read
        return
    rows = await monitor_rows(session, organization_id, action_type, map(scope_key, outcomes))
    for agent_id, (p, y) in outcomes.items():
        key = scope_key(agent_id)
        row = rows.get(key)
        if row is None:
            row = CalibrationMonitorState(
                organization_id=organization_id,
                scope="agent" if agent_id is not None else "organization",
                agent_id=agent_id,
                scope_key=key,
                action_type=action_type,
                state={},
            )
            session.add(row)
        monitor = _reading(row).monitor
        if len(p):
            monitor = monitor.update(p, y)
        row.state = monitor.to_dict()
        row.through = through
        row.updated_at = now or utcnow()
    await session.flush()  # the sessions do not autoflush: the re-assessment reads them next
