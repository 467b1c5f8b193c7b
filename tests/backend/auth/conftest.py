"""The real app with its sign-in routes, a real SMTP server (aiosmtpd) that the links are mailed
to, the factories' world (and a small demo organisation), and the app's clock."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from backend.app import create_app
from backend.database import create_engine, create_sessionmaker
from backend.orgs.models import Organization, User
from backend.settings import Settings, load_settings
from backend.unit_of_work import transaction
from tests.backend.notifications.conftest import Received, SmtpServer, free_port
from tests.conftest import empty_database
from tests.factories import NOW, TestClock, World
from tests.graphql_schema.conftest import _populate

ORIGIN = "http://testserver"  # the TestClient's own origin
PRODUCTION_ORIGIN = "https://sal.example"
DEMO_PEOPLE = (
    ("exec@demo.example", "Erin Exec", "executive", True),
    ("rep1@demo.example", "Rita Rep", "rep", True),
    ("gone@demo.example", "Gus Gone", "rep", False),
)


@dataclass
class Site:
    """The app, served in-process, and what a browser and a mail client do with it."""

    client: TestClient
    settings: Settings
    world: World
    tokens: dict[str, str]  # bearer credentials by role key (tests/graphql_schema/conftest.py)
    clock: TestClock
    smtp: SmtpServer
    demo: dict[str, int]  # the demo organisation's user ids, by e-mail

    @property
    def origin(self) -> str:
        return self.settings.public_base_url if self.settings.env == "production" else ORIGIN

    def now(self) -> Any:  # the Api protocol of tests/graphql_schema
        return self.clock()

    def request(
        self,
        method: str,
        path: str,
        *,
        cookie: str | None = None,
        origin: str | None = "",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx2.Response:
        """One request with exactly the cookie and Origin given ("" for the site's own)."""
        sent = dict(headers or {})
        if origin is not None:
            sent["Origin"] = origin or self.origin
        if cookie is not None:
            sent["Cookie"] = f"sal_session={cookie}"
        self.client.cookies.clear()  # no jar: each test says what the browser sends
        try:
            return self.client.request(method, path, headers=sent, **kwargs)
        finally:
            self.client.cookies.clear()

    def form(self, path: str, data: dict[str, str], **kwargs: Any) -> httpx2.Response:
        return self.request("POST", path, data=data, **kwargs)

    def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        cookie: str | None = None,
        bearer: str | None = None,
        **kwargs: Any,
    ) -> httpx2.Response:
        headers = kwargs.pop("headers", {})
        if bearer is not None:
            headers["Authorization"] = f"Bearer {self.tokens[bearer]}"
        return self.request(
            "POST",
            "/graphql",
            json={"query": query, "variables": variables or {}},
            cookie=cookie,
            headers=headers,
            **kwargs,
        )

    def query(self, query: str, variables=None, *, as_: str | None, **extra: Any) -> Any:
        """As tests/graphql_schema's Api.query: a bearer request that must answer 200."""
        response = self.graphql(query, variables, bearer=as_, origin=None)
        assert response.status_code == 200, response.text
        return response.json()

    def mails_to(self, address: str) -> list[Received]:
        return [m for m in self.smtp.sink.messages if address in m.recipients]

    def link_in(self, mail: Received) -> str:
        """The path and query of the sign-in link in a mail's text."""
        text = next(p for p in mail.message.walk() if p.get_content_type() == "text/plain")
        body = text.get_payload(decode=True).decode()
        [url] = re.findall(r"https?://\S+/auth/link\?token=\S+", body)
        assert url.startswith(self.settings.public_base_url), url
        return url.removeprefix(self.settings.public_base_url)

    def sign_in(self, address: str) -> str:
        """The whole way by e-mail: ask, read the mail, confirm; the session cookie's value."""
        before = len(self.mails_to(address))
        assert self.form("/auth/sign-in", {"email": address}).status_code == 200
        mails = self.mails_to(address)
        assert len(mails) == before + 1, "no sign-in mail came"
        token = self.link_in(mails[-1]).split("token=", 1)[1]
        response = self.form("/auth/link", {"token": token})
        assert response.status_code == 303, response.text
        return session_cookie(response)["sal_session"].value


def session_cookie(response: httpx2.Response) -> SimpleCookie:
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    return cookies


async def _add_demo(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            demo = Organization(slug="demo", name="Demo")
            session.add(demo)
            await session.flush()
            people = [
                User(organization_id=demo.id, email=e, name=n, role=r, active=a)
                for e, n, r, a in DEMO_PEOPLE
            ]
            session.add_all(people)
            await session.flush()
            return {p.email: p.id for p in people}
    finally:
        await engine.dispose()


async def _drop(url: str) -> None:
    engine = create_engine(url)
    try:
        await empty_database(engine)
    finally:
        await engine.dispose()


SiteFactory = Callable[..., AbstractContextManager[Site]]


@pytest.fixture
def site_at(database_url: str, smtp_server: SmtpServer) -> Iterator[SiteFactory]:
    """Opens the site: ``site_at(env="test", clock=TestClock(), **settings)``."""

    @contextmanager
    def open_site(*, env: str = "test", clock: TestClock | None = None, **given: Any):
        options: dict[str, Any] = {
            "database_url": database_url,
            "env": env,
            "worker_in_process": False,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port,
            "smtp_starttls": False,
            "smtp_sender": "Sales Agent <signin@sal.example>",
            "public_base_url": ORIGIN,
        }
        if env == "production":
            options |= {"secret_key": "p" * 48, "public_base_url": PRODUCTION_ORIGIN}
        settings = load_settings(**(options | given))
        world, tokens = asyncio.run(_populate(database_url, settings.secret_key))
        demo = asyncio.run(_add_demo(database_url))
        clock = clock or TestClock(NOW)
        try:
            with TestClient(create_app(settings, clock=clock), follow_redirects=False) as client:
                yield Site(client, settings, world, tokens, clock, smtp_server, demo)
        finally:
            asyncio.run(_drop(database_url))

    smtp_server.start()
    yield open_site


@pytest.fixture
def site(site_at: SiteFactory) -> Iterator[Site]:
    """The site in the test environment (cookies Secure, no development sign-in)."""
    with site_at() as opened:
        yield opened


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    try:
        yield server
    finally:
        server.stop()
