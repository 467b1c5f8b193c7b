"""Fixtures shared by the backend tests: the learning loop (a state with every handler) on each
database, with agent keys and people of the factories' world."""

from __future__ import annotations

import asyncio
import copyreg
import datetime as dt
import fcntl
import pickle
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import pytest

from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_api_client, viewer_for_user
from backend.demo import SeedReport
from backend.handlers import open_state
from backend.migrations import upgrade
from backend.settings import load_settings
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.backend.demo.seeding import NOW, seed, sqlite_url
from tests.factories import build_world

T0 = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)


@dataclass
class Loop:
    state: AppState
    world: object
    agent: Viewer  # the key of rep_a1's agent
    other_agent: Viewer  # the key of rep_a2's agent
    rep: Viewer  # rep_a1
    manager: Viewer  # manager_a
    admin: Viewer  # the service itself in org north


@pytest.fixture
async def loop(database_url: str) -> AsyncIterator[Loop]:
    state = open_state(load_settings(database_url=database_url))
    try:
        async with transaction(state.sessions) as session:
            world = await build_world(session, actions_per_agent=0)
            system = Viewer.system(world.orgs["north"].id)
            keys = [
                await create_api_key(
                    session,
                    viewer=system,
                    kind=ApiClientKind.AGENT,
                    name=k,
                    agent_id=world.agents[k].id,
                )
                for k in ("rep_a1", "rep_a2")
            ]
            viewers = [await viewer_for_api_client(session, k.client) for k in keys]
            rep = await viewer_for_user(session, world.users["rep_a1"])
            manager = await viewer_for_user(session, world.users["manager_a"])
        yield Loop(state, world, viewers[0], viewers[1], rep, manager, system)
    finally:
        from tests.conftest import empty_database

        await empty_database(state.engine)
        await state.close()


# SeedReport's read-only mappings come back from the shared file as plain dicts.
copyreg.pickle(MappingProxyType, lambda m: (dict, (dict(m),)))


@pytest.fixture(scope="session")
def full_seed(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> tuple[str, SeedReport]:
    """A migrated SQLite database seeded with the full-size demo as of the demo tests' ``NOW``,
    and its report: seeded once for the whole run (it takes a while; the first worker to ask
    seeds it, the others wait on the lock and copy the file); read it, never change it
    (`full_seed_copy` is a copy to change)."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    template, report = shared / "full-demo.db", shared / "full-demo.report"
    with (shared / "full-demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not report.exists():
                seeding = shared / "full-demo.db.seeding"
                seeding.unlink(missing_ok=True)
                upgrade(sqlite_url(seeding))
                seeded = asyncio.run(seed(sqlite_url(seeding), now=NOW))
                seeding.rename(template)
                report.write_bytes(pickle.dumps(seeded))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    mine = tmp_path_factory.mktemp("seed") / "full.db"
    shutil.copyfile(template, mine)
    return sqlite_url(mine), pickle.loads(report.read_bytes())


@pytest.fixture
def full_seed_copy(full_seed: tuple[str, SeedReport], tmp_path: Path) -> str:
    """A copy of the full-size demo's database file, for a test that changes it."""
    source = Path(full_seed[0].removeprefix("sqlite+aiosqlite:///"))
    target = tmp_path / "copy.db"
    shutil.copyfile(source, target)
    return sqlite_url(target)
