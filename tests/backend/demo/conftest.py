"""The full-size demo, seeded once for the session: several modules read it, and seeding it
takes a while."""

from __future__ import annotations

import asyncio

import pytest

from backend.demo import SeedReport
from backend.migrations import upgrade
from tests.backend.demo.seeding import NOW, seed, sqlite_url


@pytest.fixture(scope="session")
def full_seed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, SeedReport]:
    """A migrated SQLite database seeded at full scale as of ``NOW``, and its report."""
    url = sqlite_url(tmp_path_factory.mktemp("seed") / "full.db")
    upgrade(url)
    return url, asyncio.run(seed(url, now=NOW))
