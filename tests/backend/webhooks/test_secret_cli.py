"""`python -m backend webhook-secret --org SLUG`, run as a person runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.database import create_engine, create_sessionmaker
from backend.migrations import upgrade_async
from backend.orgs.models import Organization
from backend.unit_of_work import transaction
from tests.backend.webhooks.test_signing import EXAMPLE_KEY, EXAMPLE_SECRET

ROOT = Path(__file__).resolve().parents[3]


def webhook_secret_cli(slug: str, database_url: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": EXAMPLE_KEY,
    }
    return subprocess.run(
        [sys.executable, "-m", "backend", "webhook-secret", "--org", slug],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
    )


async def test_prints_the_organisations_secret_last(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    async with transaction(create_sessionmaker(engine)) as session:
        session.add(Organization(slug="acme", name="Acme"))
    await engine.dispose()
    found = webhook_secret_cli("acme", url)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip().splitlines()[-1] == EXAMPLE_SECRET
    missing = webhook_secret_cli("nowhere", url)
    assert missing.returncode == 1 and "'nowhere' not found" in missing.stderr
