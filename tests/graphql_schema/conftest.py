"""GraphQL test fixtures: the real app on each database, a small world, a token per role, and
one clock (`tests.factories.TestClock`, starting at `NOW`) that the app and the tests share."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from backend.app import create_app
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key
from backend.auth.tokens import issue_user_token
from backend.database import create_engine, create_sessionmaker
from backend.settings import load_settings
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.conftest import empty_database
from tests.factories import TestClock, World, build_world


@dataclass
class Api:
    client: TestClient
    world: World
    tokens: dict[str, str]  # by role key: exec_n, manager_a, rep_a1, rep_a2, rep_b1, rep_s1,
    # exec_s, agent_a1 (agent key of rep_a1's agent), partner_n (read-only partner key)
    clock: TestClock  # the app's: its "now" and "today", and what tests place their data by

    def now(self) -> dt.datetime:
        return self.clock()

    def query(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None, **extra: Any
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[as_]}"} if as_ else {}
        response = self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}, **extra},
            headers=headers,
        )
        # 200, or 401 for a credential presented and refused (its errors say `unauthenticated`).
        assert response.status_code in (200, 401), response.text
        if response.status_code == 401:
            codes = {e["extensions"]["code"] for e in response.json()["errors"]}
            assert codes == {"unauthenticated"}, response.text
        return response.json()


async def _populate(url: str, secret: str) -> tuple[World, dict[str, str]]:
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            world = await build_world(session, actions_per_agent=3)
            tokens = {
                key: issue_user_token(
                    user_id=user.id,
                    organization_id=user.organization_id,
                    secret_key=secret,
                    ttl=dt.timedelta(hours=1),
                )
                for key, user in world.users.items()
            }
            north = Viewer.system(world.orgs["north"].id)
            agent_key = await create_api_key(
                session,
                viewer=north,
                kind=ApiClientKind.AGENT,
                name="a1",
                agent_id=world.agents["rep_a1"].id,
            )
            partner = await create_api_key(
                session, viewer=north, kind=ApiClientKind.PARTNER, name="p"
            )
            tokens["agent_a1"] = agent_key.key
            tokens["partner_n"] = partner.key
        return world, tokens
    finally:
        await engine.dispose()


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    settings = load_settings(database_url=database_url, worker_in_process=False)
    world, tokens = asyncio.run(_populate(database_url, settings.secret_key))
    clock = TestClock()
    try:
        with TestClient(create_app(settings, clock=clock)) as client:
            yield Api(client, world, tokens, clock)
    finally:
        engine = create_engine(database_url)
        asyncio.run(_drop(engine))


async def _drop(engine: Any) -> None:
    await empty_database(engine)
    await engine.dispose()
