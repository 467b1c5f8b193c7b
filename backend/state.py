"""What a running process holds: settings, the clock, the database engine and sessions, the
broker and the event bus that runs after each unit of work commits."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.database import create_engine, create_sessionmaker, utcnow
from backend.events.bus import EventBus
from backend.pubsub import Broker, create_broker
from backend.settings import Settings
from backend.unit_of_work import bind_events

Clock = Callable[[], dt.datetime]


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    broker: Broker
    bus: EventBus
    # "Now" for everything the process decides by time; tests inject a fixed or moving clock.
    clock: Clock = utcnow
    # Per-process caches of the layers above, by name (e.g. live credential checks).
    caches: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock = utcnow) -> AppState:
        engine = create_engine(settings.database_url)
        broker = create_broker(settings.redis_url, prefix=settings.redis_channel_prefix)
        return cls.assemble(settings, engine, broker, clock=clock)

    @classmethod
    def assemble(
        cls, settings: Settings, engine: AsyncEngine, broker: Broker, *, clock: Clock = utcnow
    ) -> AppState:
        """A state over an engine and broker made elsewhere: sessions bound to a new event bus
        (handlers are registered by the composition root)."""
        sessions = create_sessionmaker(engine)
        bus = EventBus(broker)
        bind_events(sessions, bus)
        return cls(settings, engine, sessions, broker, bus, clock)

    @contextlib.asynccontextmanager
    async def reads(self) -> AsyncIterator[AsyncSession]:
        """A session for reads on an autocommit connection: a read in one statement costs one
        round trip (no BEGIN and ROLLBACK around it). Each statement reads one consistent
        snapshot; several statements are several snapshots, as under READ COMMITTED. Nothing
        written through it is part of a unit of work: use `sessions` for writes."""
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            async with self.sessions(bind=connection) as session:
                yield session

    def now(self) -> dt.datetime:
        return self.clock()

    async def close(self) -> None:
        await self.broker.close()
        await self.engine.dispose()
