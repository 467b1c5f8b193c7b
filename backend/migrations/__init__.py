"""Alembic migrations (one chain for SQLite and PostgreSQL) and the code that runs them.

On PostgreSQL every run holds a transaction-level advisory lock (``MIGRATION_LOCK_KEY``) for
its whole length, so replicas that start at once take turns: the first migrates, the others
then find the schema at its target and do nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TextIO

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).parent
# A fixed 64-bit key of pg_advisory_xact_lock ("sal-migr" in ASCII); advisory locks are scoped
# to one database, so deployments sharing a server do not wait for each other.
MIGRATION_LOCK_KEY = int.from_bytes(b"sal-migr", "big", signed=True)


def alembic_config(database_url: str, *, output: TextIO | None = None) -> Config:
    config = Config(output_buffer=output) if output is not None else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    config.attributes["database_url"] = database_url
    return config


def head_revision() -> str:
    """The newest revision of the chain (what ``upgrade`` goes to by default)."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration in {MIGRATIONS_DIR / 'versions'}")
    return head


# 0007 rebuilt the calibration bins from the rows it read: it has no SQL script, so an upgrade
# printed as SQL must start at it or later.
FIRST_PRINTABLE_START = "0007"


class NotPrintable(ValueError):
    """An upgrade asked for as SQL (offline) runs a migration that must read the database."""


def upgrade(
    database_url: str, revision: str = "head", *, sql: bool = False, output: TextIO | None = None
) -> None:
    """Bring the database at ``database_url`` to ``revision`` (blocking; call from a thread).
    With ``sql``, write the SQL to ``output`` (default: standard output) instead of running it;
    ``revision`` is then ``FROM:TO`` (FROM at least ``FIRST_PRINTABLE_START``) or, before it,
    just TO."""
    if sql:
        start, _, end = revision.rpartition(":")
        before = start in ("", "base") or (start.isdigit() and start < FIRST_PRINTABLE_START)
        if before and not (end.isdigit() and end < FIRST_PRINTABLE_START):
            raise NotPrintable(
                f"{FIRST_PRINTABLE_START} cannot be printed as SQL (it rebuilt rows it read); "
                f"print a range from {FIRST_PRINTABLE_START} or later, e.g. "
                f"{FIRST_PRINTABLE_START}:head, or run the migration itself"
            )
    command.upgrade(alembic_config(database_url, output=output), revision, sql=sql)


def downgrade(
    database_url: str, revision: str, *, sql: bool = False, output: TextIO | None = None
) -> None:
    """Take the database back to ``revision`` (``base``: no table left; ``-1``: one step).
    With ``sql``, ``revision`` must be ``FROM:TO`` (there is no database to read FROM from)."""
    command.downgrade(alembic_config(database_url, output=output), revision, sql=sql)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, database_url, revision)
