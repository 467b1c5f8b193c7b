"""What a running process holds: settings, the database engine and sessions, the broker."""

from __future__ import annotations

from dataclasses import dataclass

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

    @classmethod
    def open(cls, settings: Settings) -> AppState:
        engine = create_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_sessionmaker(engine),
            broker=create_broker(settings.redis_url),
        )

    async def close(self) -> None:
        await self.broker.close()
        await self.engine.dispose()
