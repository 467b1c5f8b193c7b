"""The unit of work: one transaction that collects the domain events raised inside it and,
after commit and only after commit, hands them to the event bus bound to its sessions (live
events to the broker, then the handlers registered for each event). On rollback the events are
dropped: nothing is published and no handler runs.

Requests, jobs and CLI commands own this boundary; services never commit.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)
PENDING_KEY = "unit_of_work.events"
BUS_KEY = "unit_of_work.bus"


class EventDispatcher(Protocol):
    async def dispatch(self, events: Sequence[Any]) -> None: ...


def bind_events(sessions: async_sessionmaker[AsyncSession], bus: EventDispatcher) -> None:
    """Every session made by ``sessions`` hands its committed events to ``bus``."""
    sessions.configure(info={BUS_KEY: bus})


def raise_event(session: AsyncSession, event: Any) -> None:
    """Queue ``event`` (a small frozen dataclass, named in the past tense) until the unit of work
    commits; dropped if it rolls back."""
    session.info.setdefault(PENDING_KEY, []).append(event)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession], *, hold: list[Any] | None = None
) -> AsyncIterator[AsyncSession]:
    """Commit when the block succeeds, roll everything back when it raises; after the commit,
    dispatch the events raised inside. With ``hold``, the committed events are appended there
    instead, for the caller to dispatch later (after an HTTP response Slack is waiting for)."""
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            session.info.pop(PENDING_KEY, None)
            await session.rollback()
            raise
        events = session.info.pop(PENDING_KEY, [])
        bus: EventDispatcher | None = session.info.get(BUS_KEY)
    if not events:
        return
    if hold is not None:
        hold.extend(events)
    elif bus is not None:
        await bus.dispatch(events)
    else:
        log.debug("%d events dropped: these sessions have no event bus", len(events))
