"""Pooled PostgreSQL connections: one that sat idle is pinged and, if dead, replaced before
use; one in steady use is not pinged (the round trips it would cost on every checkout)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.database import create_engine


async def _kill(url: str, pid: int) -> None:
    admin = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def _pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT pg_backend_pid()")))


async def test_a_dead_idle_connection_is_replaced(postgresql_database_url: str) -> None:
    engine = create_engine(postgresql_database_url, ping_idle_after=0.0)
    try:
        first = await _pid(engine)
        await _kill(postgresql_database_url, first)
        assert await _pid(engine) != first  # the pool found it dead and connected anew
    finally:
        await engine.dispose()


async def test_a_connection_in_steady_use_is_not_pinged(postgresql_database_url: str) -> None:
    engine = create_engine(postgresql_database_url, ping_idle_after=3600.0)
    try:
        first = await _pid(engine)
        await _kill(postgresql_database_url, first)
        with pytest.raises(DBAPIError):  # not pinged: the dead connection is used
            await _pid(engine)
        await _pid(engine)  # ... and then discarded by the pool
    finally:
        await engine.dispose()
