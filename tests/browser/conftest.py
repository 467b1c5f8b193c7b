"""Browser fixtures: the demo seeded once per run (its file copied to each xdist worker), the real
server on a fixed clock (in development: its sign-in page offers the demo's people) mailing its
sign-in links to a real SMTP server, Debian's Chromium through Playwright, and a fresh profile
per test.

Without /usr/bin/chromium these tests are skipped, saying why; with CI=true they fail
(`.ci/run` installs the Debian package when it is missing).
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.harness import (
    CHROMIUM,
    Dashboard,
    Mailbox,
    demo_tokens,
    launch_chromium,
    mail_server,
    seed_demo_database,
    serving,
)
from tests.conftest import unavailable

# Half the demo's actions per agent: every view has data (policy changes with their history,
# verdicts, coaching insights, alerts), seeded in about 8 s instead of 14.
DEMO_SCALE = 0.5


def _shared_directory(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The run's temporary directory shared by every xdist worker (each has its own below)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session")
def demo_database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    """This worker's own copy of the demo database; the first worker to ask seeds it for all,
    the others wait on the lock and copy (the tests write, so each server gets its own file)."""
    shared = _shared_directory(tmp_path_factory, worker_id)
    template = shared / "browser-demo.db"
    with (shared / "browser-demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not template.exists():
                seeding = shared / "browser-demo.db.seeding"
                seeding.unlink(missing_ok=True)
                seed_demo_database(seeding, scale=DEMO_SCALE)
                seeding.rename(template)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    mine = tmp_path_factory.mktemp("browser") / "demo.db"
    shutil.copyfile(template, mine)
    return f"sqlite+aiosqlite:///{mine}"


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    """The SMTP server the served app mails to (its own thread and event loop, not this one)."""
    with mail_server() as started:
        yield started


@pytest.fixture(scope="session")
def dashboard(
    demo_database_url: str, mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    tokens = demo_tokens(demo_database_url)
    logs = tmp_path_factory.mktemp("browser-logs")
    with (
        serving(demo_database_url, logs, environment=mailbox.settings) as base_url,
        httpx2.Client(base_url=base_url, timeout=30) as http,
    ):
        yield Dashboard(base_url, tokens, http)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module. Not per session: Playwright's sync API runs its own event
    loop in this thread while it is started, and every later test of the worker that runs one
    (asyncio.run, pytest-asyncio) would fail beside it; a module's teardown stops it before the
    worker moves on."""
    if not CHROMIUM.exists():
        unavailable(f"Chromium at {CHROMIUM} (Debian package 'chromium')")
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, dashboard: Dashboard) -> Iterator[Page]:
    """A page in a fresh profile (nobody signed in), 1280 x 900, on the server's clock."""
    context = dashboard.new_context(browser)
    try:
        yield context.new_page()
    finally:
        context.close()
