"""What a running process holds: settings, the database engine and sessions, the broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.database import create_engine, create_sessionmaker
from backend.pubsub import Broker, create_broker
from backend.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    broker: Broker
    # Per-process caches of the layers above, by name (e.g. live credential checks).
    caches: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings) -> AppState:
        engine = create_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_sessionmaker(engine),
            broker=create_broker(settings.redis_url, prefix=settings.redis_channel_prefix),
        )

    async def close(self) -> None:
        await self.broker.close()
        await self.engine.dispose()
