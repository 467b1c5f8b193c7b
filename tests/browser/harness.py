"""The dashboard on the demo data, for the browser tests and `bench/dashboard_load.py`.

The demo is seeded with a fixed ``now`` (`DEMO_NOW`); the real app is served in its own process
on a clock that starts the morning after (`CLOCK_AT`, `tests/browser/server.py`), and every page
gets the same clock for `Date`, so "the last 28 days" are the same days for the app, the API
and the test, whatever the day the suite runs. Chromium is Debian's (`/usr/bin/chromium`),
driven by Playwright; nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx2
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect
from sqlalchemy import select

from backend.auth.tokens import issue_user_token
from backend.database import create_engine, create_sessionmaker
from backend.demo.seed import seed_demo
from backend.migrations import upgrade
from backend.orgs.models import User
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
DEMO_NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)  # the demo's history ends here
CLOCK_AT = DEMO_NOW + dt.timedelta(hours=9)  # the server's and the pages' "now": that morning
SECRET_KEY = "browser-tests-secret-key-0123456789abcdef"
READY_TIMEOUT = 60.0
# The API's limits are tested elsewhere; a page that loads many documents must never be refused.
UNLIMITED = {
    "GRAPHQL_COST_BUDGET": "10000000",
    "GRAPHQL_COST_REFILL": "1000000",
    "GRAPHQL_REQUESTS_PER_MINUTE": "1000000",
}
SESSION_COOKIE = "sal_session"
MAIL_TIMEOUT = 10.0
# Chart marks that carry data (Observable Plot labels each mark's group with its type); axes,
# grids, tips and the pointer rule are drawn without data or only under the pointer. A chart is
# drawn when its figure holds one of these: `chart_marks("figure.chart")` for any chart.
MARK_SHAPES = (
    ("dot", "circle"),
    ("line", "path"),
    ("area", "path"),
    ("bar", "rect"),
    ("rect", "rect"),
    ("cell", "rect"),
    ("rule", "line"),
    ("link", "path"),
)


def chart_marks(within: str = "") -> str:
    """A CSS selector of the data marks of the charts inside ``within`` (a selector, or the
    element the selector is applied to when empty)."""
    prefix = f"{within} " if within else ""
    return ", ".join(f'{prefix}svg g[aria-label="{m}"] > {shape}' for m, shape in MARK_SHAPES)


def clock_script(at: dt.datetime) -> str:
    """An init script that starts the page's `Date` at ``at`` and lets it run with real time
    (as the server's `TestClock`); timers and `performance` stay the browser's own, so load
    times are measured as in any page. Playwright's `clock` would replace `performance` too."""
    start_ms = int(at.timestamp() * 1000)
    return f"""(() => {{
  const RealDate = Date, startMs = {start_ms}, madeMs = RealDate.now();
  const nowMs = () => startMs + (RealDate.now() - madeMs);
  class ClockDate extends RealDate {{
    constructor(...args) {{ if (args.length === 0) super(nowMs()); else super(...args); }}
    static now() {{ return nowMs(); }}
  }}
  globalThis.Date = ClockDate;
}})();"""


T = TypeVar("T")


def off_the_page_loop(work: Callable[[], T]) -> T:
    """Run ``work`` in a thread of its own: Playwright's sync API keeps an event loop running in
    the test's thread, where `asyncio.run` (seeding, migrating, reading) is refused."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(work).result()


def seed_demo_database(path: Path, *, scale: float) -> str:
    """A migrated SQLite database at ``path`` holding the demo ending at `DEMO_NOW`; its URL."""
    url = f"sqlite+aiosqlite:///{path}"

    async def seed() -> None:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        try:
            await seed_demo(create_sessionmaker(engine), progress=False, now=DEMO_NOW, scale=scale)
        finally:
            await engine.dispose()

    off_the_page_loop(lambda: asyncio.run(seed()))
    return url


def demo_tokens(database_url: str) -> dict[str, str]:
    """A bearer token for every user of the database, by e-mail."""

    async def read() -> list[tuple[str, int, int]]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    select(User.email, User.id, User.organization_id).where(User.active)
                )
                return [tuple(row) for row in rows]  # type: ignore[misc]
        finally:
            await engine.dispose()

    return {
        email: issue_user_token(
            user_id=user_id,
            organization_id=org_id,
            secret_key=SECRET_KEY,
            ttl=dt.timedelta(hours=2),
        )
        for email, user_id, org_id in off_the_page_loop(lambda: asyncio.run(read()))
    }


@contextmanager
def serving(
    database_url: str,
    logs: Path,
    *,
    at: dt.datetime = CLOCK_AT,
    environment: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """The real app (`tests/browser/server.py`) on a free port of 127.0.0.1, its clock starting
    at ``at``; yields its base URL once `/readyz` answers, and always stops it."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "ENV": "development",  # the development-only one-click sign-in of the demo people
        "WORKER_IN_PROCESS": "false",
        "LOG_LEVEL": "WARNING",
        **UNLIMITED,
        **(environment or {}),
    }
    env.pop("REDIS_URL", None)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env.setdefault("PUBLIC_BASE_URL", base_url)  # the links mailed point at this server
    log = logs / f"dashboard-server-{port}.log"
    command = [
        sys.executable,
        *("-m", "tests.browser.server", "--port", str(port), "--at", at.isoformat()),
    ]
    with log.open("w") as output:  # a file, never a pipe nobody reads
        server = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                if httpx2.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert server.poll() is None, f"the server exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"not ready in {READY_TIMEOUT:g} s"
            time.sleep(0.1)
        yield base_url
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


@dataclass
class Mailbox:
    """A real SMTP server on 127.0.0.1 (aiosmtpd, in its own thread and event loop) keeping
    every message it receives: where the served app mails its sign-in links."""

    port: int
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"

    @property
    def settings(self) -> dict[str, str]:
        """The served app's SMTP settings for this server (plain SMTP, no login)."""
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port), "SMTP_STARTTLS": "false"}

    def wait_for(self, address: str, *, after: int = 0) -> Message:
        """The first message to ``address`` among those received past the ``after`` first."""
        deadline = time.monotonic() + MAIL_TIMEOUT
        while True:
            for message in self.messages[after:]:
                if message["To"] == address:
                    return message
            assert time.monotonic() < deadline, f"no mail to {address} in {MAIL_TIMEOUT:g} s"
            time.sleep(0.05)


def sign_in_link(message: Message) -> str:
    """The link of a sign-in mail, read from its plain-text part."""
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    payload = text.get_payload(decode=True)
    assert isinstance(payload, bytes), message
    [link] = re.findall(r"https?://\S+/auth/link\?token=\S+", payload.decode())
    return str(link)


@contextmanager
def mail_server() -> Iterator[Mailbox]:
    """A `Mailbox` listening on a free port of 127.0.0.1; always stopped."""
    mailbox = Mailbox(free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless (no sandbox as root: Chromium refuses it there)."""
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)


class GraphQLFailed(AssertionError):
    """A request the test expected to succeed answered errors."""


@dataclass
class Dashboard:
    """A served dashboard: its URL, a token per demo person (by e-mail), and the API."""

    base_url: str
    tokens: dict[str, str]
    http: httpx2.Client

    def data(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str
    ) -> dict[str, Any]:
        """``data`` of a GraphQL request made as the person ``as_`` (an e-mail)."""
        response = self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.tokens[as_]}"},
        )
        assert response.status_code == 200, (response.status_code, response.text)
        answer = response.json()
        if answer.get("errors"):
            raise GraphQLFailed(f"{as_}: {answer['errors']}")
        return answer["data"]

    def new_context(
        self, browser: Browser, *, width: int = 1280, height: int = 900
    ) -> BrowserContext:
        """A fresh browser profile (no cookies) whose pages run on the server's clock."""
        context = browser.new_context(viewport={"width": width, "height": height})
        context.add_init_script(clock_script(CLOCK_AT))
        context.set_default_timeout(10_000)
        return context

    def url(self, view: str | None = None, **filters: str) -> str:
        query = {k: v for k, v in {"view": view, **filters}.items() if v is not None}
        return f"{self.base_url}/" + (f"?{urlencode(query)}" if query else "")

    def sign_in(self, page: Page, person: str, *, land: bool = True) -> None:
        """Sign ``person`` (an e-mail) in as a person does in development: the sign-in page,
        the button of that person among the demo's people, which answers with the session
        cookie and sends the browser to `/`. With ``land``, wait until the app has opened the
        person's own view there; without, only until `/` is on its way (the caller goes on)."""
        page.goto(f"{self.base_url}/auth/sign-in")
        button = page.get_by_role("button", name=re.compile(rf"\({re.escape(person)}\)$"))
        if land:
            button.click()
            expect(page).to_have_url(re.compile(r"/\?view=\w+$"))
        else:
            with page.expect_navigation(url=f"{self.base_url}/", wait_until="commit"):
                button.click()
        assert self.signed_in(page), f"{person} is not signed in"

    def signed_in(self, page: Page) -> bool:
        return any(c["name"] == SESSION_COOKIE for c in page.context.cookies(self.base_url))

    def open_as(self, page: Page, person: str, view: str | None = None, **filters: str) -> None:
        """Open ``view`` (None: the landing page) signed in as ``person`` (an e-mail): through
        the sign-in page the first time in the page's profile, then by its session cookie."""
        landing = view is None and not filters
        if not self.signed_in(page):
            self.sign_in(page, person, land=landing)
            if landing:
                return  # signing in lands on the person's own view
        page.goto(self.url(view, **filters))

    def open_with_token(
        self, page: Page, person: str, view: str | None = None, **filters: str
    ) -> None:
        """Open ``view`` with ``person``'s bearer token in the address (`#token=`): the way an
        API client's token is handed to the dashboard; the app takes it out at once and keeps
        it in memory only (no session, no cookie)."""
        page.goto(f"{self.url(view, **filters)}#token={self.tokens[person]}")
