"""Recording events inside a unit of work and publishing them after it commits.

Events carry the organisation, the scope, a monotonic version per stream and ids, never whole
objects. Versions come from one atomic upsert per event, so concurrent writers never reuse one.
A broker that is down never fails the write: the event is logged as undelivered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.database import dialect_insert
from backend.events.models import EventStream
from backend.pubsub import Broker
from backend.unit_of_work import raise_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    name: str  # "calibration.changed", "policy.changed", "outcome.needs_label", ...
    organization_id: int
    stream: str
    version: int
    data: dict[str, Any] = field(default_factory=dict)

    def channel(self) -> str:
        return channel_for(self.organization_id, self.name)

    def message(self) -> dict[str, Any]:
        return asdict(self)


def channel_for(organization_id: int, name: str) -> str:
    """Broker channels are per organisation, so a subscriber never sees another tenant's events."""
    return f"org:{organization_id}:{name}"


async def next_version(session: AsyncSession, *, organization_id: int, stream: str) -> int:
    insert = dialect_insert(session, EventStream)
    statement = (
        insert.values(organization_id=organization_id, stream=stream, version=1)
        .on_conflict_do_update(
            index_elements=["organization_id", "stream"],
            set_={"version": EventStream.version + 1},
        )
        .returning(EventStream.version)
    )
    return int((await session.execute(statement)).scalar_one())


async def record_event(
    session: AsyncSession, *, name: str, organization_id: int, stream: str, data: dict[str, Any]
) -> Event:
    """Allocate the stream's next version and queue the event until the unit of work commits."""
    version = await next_version(session, organization_id=organization_id, stream=stream)
    event = Event(name, organization_id, stream, version, data)
    raise_event(session, event)
    return event


async def publish(broker: Broker, events: Iterable[Event]) -> int:
    """Publish committed events; returns how many were delivered to the broker."""
    delivered = 0
    for event in events:
        try:
            await broker.publish(event.channel(), event.message())
            delivered += 1
        except Exception as exc:  # the write stands; subscribers catch up through versions
            log.warning(
                "event undelivered: %s %s v%s (%s: %s)",
                event.name,
                event.stream,
                event.version,
                type(exc).__name__,
                exc,
            )
    return delivered
