"""Pooled PostgreSQL connections: one that sat idle is pinged and, if dead, replaced before
use; one in steady use is not pinged (the round trips it would cost on every checkout). A
request's independent reads overlap on their own connections."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.database import (
    READ_LANES,
    create_engine,
    create_sessionmaker,
    read_concurrently,
)


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


async def test_reads_run_concurrently_on_their_own_connections(database_url: str) -> None:
    """On PostgreSQL the reads of one request overlap, each on its own connection, at most
    READ_LANES at once; on SQLite they run one after the other on the request's session.
    (READ_LANES reads at a time wait for each other: one at a time, they would never finish.)"""
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    postgresql = database_url.startswith("postgresql")
    together = asyncio.Barrier(READ_LANES if postgresql else 1)
    running = 0
    most = 0

    async def read(session: AsyncSession) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        pid = await session.scalar(text("SELECT pg_backend_pid()" if postgresql else "SELECT 7"))
        await together.wait()
        running -= 1
        return int(pid or 0)

    try:
        async with sessions() as session:
            work = {f"read {n}": read for n in range(2 * READ_LANES)}
            found = await asyncio.wait_for(read_concurrently(session, sessions, work), 60)
    finally:
        await engine.dispose()
    assert list(found) == list(work)
    if postgresql:
        assert most == READ_LANES and len(set(found.values())) >= READ_LANES
    else:
        assert most == 1 and set(found.values()) == {7}
