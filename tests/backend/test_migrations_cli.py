"""`python -m backend migrate`: replicas migrating one fresh PostgreSQL database at once take
turns, the SQL can be printed instead of run, and named revisions go up and down."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from alembic.script import ScriptDirectory

from backend.migrations import alembic_config, head_revision
from tests.conftest import POSTGRES_ADMIN_URL, _admin, unavailable

ROOT = Path(__file__).resolve().parents[2]


def _migrate(*args: str, database_url: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    environment.pop("ENV", None)
    return subprocess.Popen(
        [sys.executable, "-m", "backend", "migrate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=ROOT,
    )


def _run(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    process = _migrate(*args, database_url=database_url)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _before_head() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    down = script.get_revision(head_revision()).down_revision
    assert isinstance(down, str)
    return down


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A new PostgreSQL database with no table at all (not migrated), dropped afterwards."""
    name = f"sal_migrate_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL at {POSTGRES_ADMIN_URL} ({exc})")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _version(url: str) -> str | None:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        if await connection.fetchval("SELECT to_regclass('alembic_version')") is None:
            return None
        return await connection.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await connection.close()


async def _tables(url: str) -> set[str]:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await connection.close()
    return {row["tablename"] for row in rows}


@pytest.mark.postgres
def test_three_processes_migrating_one_fresh_database_at_once_all_succeed(
    empty_postgres: str,
) -> None:
    processes = [_migrate(database_url=empty_postgres) for _ in range(3)]
    results = [(p.wait(timeout=180), *p.communicate()) for p in processes]
    for returncode, stdout, stderr in results:
        assert returncode == 0, stderr
        assert "database is up to date" in stdout
        assert "duplicate key" not in stderr
    assert asyncio.run(_version(empty_postgres)) == head_revision()


@pytest.mark.postgres
def test_named_revisions_up_and_down(empty_postgres: str) -> None:
    result = _run("--to", "0019", database_url=empty_postgres)
    assert result.returncode == 0, result.stderr
    assert "database is at 0019" in result.stdout
    assert asyncio.run(_version(empty_postgres)) == "0019"
    assert "sign_in_links" not in asyncio.run(_tables(empty_postgres))

    assert _run(database_url=empty_postgres).returncode == 0
    assert asyncio.run(_version(empty_postgres)) == head_revision()
    assert "sign_in_links" in asyncio.run(_tables(empty_postgres))

    result = _run("--downgrade", "-1", database_url=empty_postgres)
    assert result.returncode == 0, result.stderr
    assert asyncio.run(_version(empty_postgres)) == _before_head()

    result = _run("--downgrade", "base", database_url=empty_postgres)
    assert result.returncode == 0, result.stderr
    assert asyncio.run(_tables(empty_postgres)) <= {"alembic_version"}


def test_sql_prints_the_script_under_the_lock_without_a_database() -> None:
    # Port 1: nothing listens there, and nothing is asked of it.
    url = "postgresql://nobody@127.0.0.1:1/nowhere"
    result = _run("--sql", "--to", "0007:head", database_url=url)
    assert result.returncode == 0, result.stderr
    script = result.stdout
    assert script.index("BEGIN;") < script.index("SELECT pg_advisory_xact_lock(")
    assert "CREATE TABLE sign_in_links" in script
    assert f"UPDATE alembic_version SET version_num='{head_revision()}'" in script
    assert script.rstrip().endswith("COMMIT;")


def test_sql_from_before_0007_is_refused_with_the_range_to_print() -> None:
    # 0007 rebuilt the calibration bins from the rows it read: no script can say that.
    url = "postgresql://nobody@127.0.0.1:1/nowhere"
    for args in (["--sql"], ["--sql", "--to", "0006:0008"]):
        result = _run(*args, database_url=url)
        assert result.returncode == 1
        assert result.stderr.startswith("error: --to: 0007 cannot be printed as SQL"), args
    assert _run("--sql", "--to", "0001:0006", database_url=url).returncode == 0


def test_sql_downgrade_needs_a_range_and_prints_it() -> None:
    url = "postgresql://nobody@127.0.0.1:1/nowhere"
    refused = _run("--sql", "--downgrade", "0019", database_url=url)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: --downgrade: downgrade with --sql requires")
    result = _run("--sql", "--downgrade", f"{head_revision()}:0019", database_url=url)
    assert result.returncode == 0, result.stderr
    assert "DROP TABLE sign_in_links" in result.stdout


def test_an_unknown_revision_is_named() -> None:
    result = _run("--to", "9999", database_url="sqlite+aiosqlite:///:memory:")
    assert result.returncode == 1
    assert "--to" in result.stderr and "'9999'" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_documents_revisions_and_sql() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "backend", "migrate", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    for option in ("--to REV", "--downgrade REV", "--sql"):
        assert option in result.stdout
