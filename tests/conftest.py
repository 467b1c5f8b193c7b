"""Test fixtures: real SQLite and PostgreSQL databases (fresh per session), real Redis.

Storage tests take the `database_url` fixture, which runs them once per database. With CI=true
an unreachable PostgreSQL or Redis fails the run; elsewhere those tests are skipped.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest
import redis
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from tenacity import wait_none

import backend.models as models
import backend.retries
from backend.database import create_engine, create_sessionmaker
from backend.migrations import upgrade

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def unavailable(what: str) -> None:
    """Fail under CI (a missing service is a broken run), skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{what} is required when CI=true", pytrace=False)
    pytest.skip(f"{what} is not reachable")


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return migrated_sqlite(tmp_path_factory.mktemp("db") / "test.db")


def _postgres_url(name: str) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


_postgres_template: list[str] = []  # this process's migrated template database, once made


def _migrated_postgres_template() -> str:
    """The name of a PostgreSQL database migrated to head once per test process and never
    connected to again, dropped at the end of the session: `fresh_postgres` copies it (CREATE
    DATABASE ... TEMPLATE takes a tenth of a second; migrating a new database, seconds)."""
    if not _postgres_template:
        name = f"sal_template_{secrets.token_hex(4)}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        try:
            upgrade(_postgres_url(name))
        except BaseException:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            raise
        _postgres_template.append(name)
    return _postgres_template[0]


@contextmanager
def fresh_postgres(prefix: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database named ``<prefix>_<random>`` (a copy of this
    process's migrated template), dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        template = _migrated_postgres_template()
        asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL at {POSTGRES_ADMIN_URL} ({exc})")
    try:
        yield _postgres_url(name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_sqlite_template: list[Path] = []  # this process's migrated SQLite file, once made


def migrated_sqlite(path: Path) -> str:
    """The URL of a migrated SQLite database at ``path``: a copy of a file migrated once per
    test process (migrating takes a second of CPU; copying the file, nothing)."""
    if not _sqlite_template:
        template = Path(tempfile.mkdtemp(prefix="sal-sqlite-template-")) / "migrated.db"
        upgrade(f"sqlite+aiosqlite:///{template}")
        _sqlite_template.append(template)
    shutil.copyfile(_sqlite_template[0], path)
    return f"sqlite+aiosqlite:///{path}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop this process's templates (each xdist worker made its own)."""
    for name in _postgres_template:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    for template in _sqlite_template:
        shutil.rmtree(template.parent, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make `xdist_group` group again under pytest 9.2: pytest-xdist 3.8 names a grouped test
    ``<nodeid>@<group>`` (how `--dist loadgroup` finds its group) by setting the item's
    ``_nodeid``, which pytest 9.2's structured node ids no longer read, so every test was
    scheduled alone (pytest-dev/pytest-xdist#1386). Runs after xdist's hook, on its workers."""
    if not config.getoption("loadgroup", default=False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        grouped = item.__dict__.get("_nodeid")
        if isinstance(grouped, str) and grouped != item.nodeid and hasattr(item, "_id"):
            item._id = NodeId.parse(grouped)


def require_redis(url: str = REDIS_URL) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {url} ({exc})")
    finally:
        client.close()


@pytest.fixture(scope="session")
def postgresql_database_url() -> Iterator[str]:
    with fresh_postgres("sal_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_database_url")


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on a migrated database, emptied after the test."""
    engine = create_engine(database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await empty_database(engine)
        await engine.dispose()


async def empty_database(engine: AsyncEngine) -> None:
    """Delete every row (the schema stays), so the next test starts from nothing; on
    PostgreSQL the ids start again at 1 as well.

    Only the tables holding rows are emptied, children first, and only the sequences that were
    used are reset: a test leaves a few rows in a few of the 50 tables, and a TRUNCATE of them
    all took 0.3 s per test (a DELETE of what is there, about 10 ms)."""
    tables = models.Base.metadata.sorted_tables
    async with engine.begin() as connection:
        probe = " UNION ALL ".join(
            f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM {t.name})" for t in tables
        )
        filled = {row[0] for row in await connection.execute(text(probe))}
        for table in reversed(tables):
            if table.name in filled:
                await connection.execute(delete(table))
        if connection.dialect.name == "postgresql":
            used = [
                row[0]
                for row in await connection.execute(
                    text(
                        "SELECT sequencename FROM pg_sequences"
                        " WHERE schemaname = current_schema() AND last_value IS NOT NULL"
                    )
                )
            ]
            if used:
                resets = ", ".join(f"setval('{name}', 1, false)" for name in used)
                await connection.execute(text(f"SELECT {resets}"))


@pytest.fixture(autouse=True)
def no_wait_between_quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused connection's quick retries (`backend.retries`) are tried again at once in the
    tests' process: many tests refuse connections on purpose (an SMTP server, a webhook or a
    key server that is down), and each refusal waited about 0.6 s for nothing the tests check
    (the attempts are counted, never timed). Servers in processes of their own keep the waits."""
    monkeypatch.setattr(backend.retries, "WAIT", wait_none())


@pytest.fixture
def redis_url() -> str:
    require_redis()
    return REDIS_URL
