"""Alembic environment: runs migrations through the project's async engine, on PostgreSQL under
an advisory lock so that replicas migrating one database at once take turns."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

import backend.models  # noqa: F401  registers every table on Base.metadata
from backend.database import Base, create_engine
from backend.migrations import MIGRATION_LOCK_KEY

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("Alembic has no database URL: neither database_url nor sqlalchemy.url")
    return str(url)


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Held until this transaction ends (every migration runs in it): a process that comes
        # second waits here, then finds the version table at head and has nothing to do.
        connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_offline() -> None:
    """Print the SQL (``migrate --sql``) instead of running it; on PostgreSQL the script takes
    the same lock as the online path."""
    url = _url()
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        if make_url(url).get_backend_name() == "postgresql":
            context.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    asyncio.run(_run_online())
