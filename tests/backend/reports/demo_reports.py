"""The reports' tests over the full-size demo (the session's `full_seed`, read only): the real
GraphQL app on it with its clock the morning after the seed, a token per demo person, a state
for calling the services, and each kind of report rendered once per test module."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from strawberry.relay import GlobalID

from backend.app import create_app
from backend.auth.service import viewer_of_user
from backend.auth.tokens import issue_user_token
from backend.demo import SeedReport
from backend.handlers import open_state
from backend.orgs.models import User
from backend.reports.models import ReportKind
from backend.reports.rendered import Links, Period
from backend.settings import load_settings
from backend.state import AppState
from backend.viewer import Viewer
from tests.backend.demo.seeding import NOW

TODAY = NOW.date()  # the seed's history ends at NOW (midnight): reports go out that morning
SENT_AT = NOW + dt.timedelta(hours=7)
YESTERDAY = TODAY - dt.timedelta(days=1)
# The last whole week before TODAY (Monday to Sunday) and the daily report's day.
WEEK = Period.of(ReportKind.EXECUTIVE_WEEKLY, TODAY - dt.timedelta(days=7))
DAY = Period.of(ReportKind.MANAGER_DAILY, YESTERDAY)
LINKS = Links("https://sales.example.com", "https://sales.example.com/unsubscribe?token=t0k3n")
MANAGER = "manager1@demo.example"
OTHER_MANAGER = "manager2@demo.example"
EXECUTIVE = "exec@demo.example"
REP = "rep1@demo.example"
OTHER_REP = "rep5@demo.example"


def gid(type_name: str, row_id: int) -> str:
    return str(GlobalID(type_name, str(row_id)))


@dataclass
class DemoApi:
    client: TestClient
    tokens: dict[str, str]  # by e-mail
    users: dict[str, int]  # user id by e-mail
    url: str
    cache: dict[Any, Any] = field(default_factory=dict)

    def query(self, query: str, variables: dict[str, Any] | None = None, *, as_: str) -> Any:
        response = self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.tokens[as_]}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


async def _people(url: str) -> dict[str, tuple[int, int]]:
    """Each person's (user id, organisation id) by e-mail."""
    state = open_state(load_settings(database_url=url))
    try:
        async with state.reads() as session:
            rows = await session.execute(select(User.email, User.id, User.organization_id))
            return {email: (user_id, org) for email, user_id, org in rows.all()}
    finally:
        await state.close()


@pytest.fixture(scope="module")
def demo_api(full_seed: tuple[str, SeedReport]) -> Iterator[DemoApi]:
    url, _ = full_seed
    settings = load_settings(database_url=url, worker_in_process=False)
    people = asyncio.run(_people(url))
    tokens = {
        email: issue_user_token(
            user_id=user_id,
            organization_id=org,
            secret_key=settings.secret_key,
            ttl=dt.timedelta(hours=1),
        )
        for email, (user_id, org) in people.items()
    }
    users = {email: user_id for email, (user_id, _) in people.items()}
    with TestClient(create_app(settings, clock=lambda: SENT_AT)) as client:
        yield DemoApi(client, tokens, users, url)


@pytest.fixture
async def demo_state(demo_api: DemoApi) -> AsyncIterator[AppState]:
    state = open_state(load_settings(database_url=demo_api.url), clock=lambda: SENT_AT)
    try:
        yield state
    finally:
        await state.close()


async def viewer(state: AppState, api: DemoApi, email: str) -> Viewer:
    async with state.reads() as session:
        found = await viewer_of_user(session, api.users[email])
    assert found is not None
    return found
