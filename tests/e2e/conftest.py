"""End-to-end fixtures: a real `python -m backend serve` on a free port, over real TCP.

Two configurations: a SQLite file with the in-process broker, and a fresh PostgreSQL database
with Redis; each seeded through the real services before its server starts, once per test
module (`deployment`). With CI=true a missing PostgreSQL or Redis fails the run. Every wait is
bounded, and every server is stopped and every database dropped even when a test fails.

The server runs on the real clock, in its own process: the seed is placed relative to one
reading of that clock (`Deployment.seeded_at`), and a test that means a range of days asks for
it (`Deployment.range`) rather than the server's default of the last 30 days.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import select
from strawberry.relay import GlobalID

import backend.models as models
from backend.actions.service import ActionInput
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_user
from backend.auth.tokens import issue_user_token
from backend.database import create_engine
from backend.feedback.service import FeedbackInput
from backend.handlers import open_state
from backend.learning import submit_action, submit_rating, submit_signals
from backend.settings import load_settings
from backend.signals.service import SignalInput
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.conftest import REDIS_URL, fresh_postgres, migrated_sqlite, require_redis
from tests.factories import TestClock, build_world
from tests.servers import running_server

SECRET_KEY = "e2e-test-" + secrets.token_hex(16)
REPS = ("rep_a1", "rep_a2", "rep_b1", "rep_s1")
# The API's limits are tested in tests/graphql_schema/test_limits.py; here they are raised so
# that they never refuse (or hide) what a test asks for.
UNLIMITED = {
    "GRAPHQL_COST_BUDGET": "10000000",
    "GRAPHQL_COST_REFILL": "1000000",
    "GRAPHQL_REQUESTS_PER_MINUTE": "1000000",
}


def gid(type_name: str, row_id: int | str) -> str:
    return str(GlobalID(type_name, str(row_id)))


@dataclass
class Seeded:
    """Row ids of the seeded world, by the key of the rep whose agent they belong to."""

    orgs: dict[str, int] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    agents: dict[str, int] = field(default_factory=dict)
    actions: dict[str, list[int]] = field(default_factory=dict)  # 2 raw + 2 with outcomes
    labelling: dict[str, int] = field(default_factory=dict)  # its one outcome needing a label
    resolved: dict[str, int] = field(default_factory=dict)  # its resolved email_reply outcome
    feedback: dict[str, int] = field(default_factory=dict)  # the rep's rating of its action


@dataclass
class Deployment:
    """One running server on a seeded database; `tokens` by role key: the users of
    tests/factories.py, the agent keys `agent_a1`, `agent_a2`, `agent_s1` (of the agents of
    rep_a1, rep_a2, rep_s1), and north's partner keys `partner_n` (the default, read-only scopes)
    and `partner_narrow` (only `read:analytics`)."""

    name: str  # "sqlite" or "postgresql"
    base_url: str
    database_url: str
    tokens: dict[str, str]
    ids: Seeded
    http: httpx2.Client
    seeded_at: dt.datetime  # the real clock's reading every seeded row is placed by

    @property
    def range(self) -> dict[str, str]:
        """`from`/`to` of a range of days holding every seeded row (two weeks up to the seed)."""
        day = self.seeded_at.date()
        return {"from": (day - dt.timedelta(days=14)).isoformat(), "to": day.isoformat()}

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/graphql"

    def post(self, body: dict[str, Any], *, as_: str | None) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.tokens[as_]}"} if as_ else {}
        return self.http.post("/graphql", json=body, headers=headers)

    def query(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None
    ) -> dict[str, Any]:
        """The response of a GraphQL request (a 200 JSON answer, or 401 for a credential
        presented and refused, whose errors say `unauthenticated`)."""
        response = self.post({"query": query, "variables": variables or {}}, as_=as_)
        assert response.status_code in (200, 401), (response.status_code, response.text)
        if response.status_code == 401:
            codes = {e["extensions"]["code"] for e in response.json()["errors"]}
            assert codes == {"unauthenticated"}, response.text
        return response.json()

    def data(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str
    ) -> dict[str, Any]:
        """`data` of a request that must not fail."""
        answer = self.query(query, variables, as_=as_)
        assert "errors" not in answer, (as_, answer["errors"])
        return answer["data"]

    def snapshot(self) -> dict[str, list[str]]:
        """Every row of every table, as text; but `api_clients`, whose `last_used_at` each
        authenticated request moves."""

        async def read() -> dict[str, list[str]]:
            engine = create_engine(self.database_url)
            try:
                async with engine.connect() as connection:
                    return {
                        table.name: sorted(
                            repr(tuple(row)) for row in await connection.execute(select(table))
                        )
                        for table in models.Base.metadata.sorted_tables
                        if table.name != "api_clients"
                    }
            finally:
                await engine.dispose()

        return asyncio.run(read())


async def _seed(database_url: str, now: dt.datetime) -> tuple[dict[str, str], Seeded]:
    """The factories' world (two raw actions per agent, at ``now``), then through the learning
    loop, per agent: an email whose reply needs a label, an email with a positive reply (a
    resolved, calibrating outcome), the email policy they create, and its rep's rating of the
    first; all ten days before ``now``, so that the replies' 7-day windows have closed (calibration
    judges matured days only)."""
    sent = now - dt.timedelta(days=10)
    settings = load_settings(database_url=database_url, worker_in_process=False)
    state = open_state(settings, clock=TestClock(now))
    seeded = Seeded()
    try:
        async with transaction(state.sessions) as session:
            world = await build_world(session, actions_per_agent=2, now=now)
            tokens = {
                key: issue_user_token(
                    user_id=user.id,
                    organization_id=user.organization_id,
                    secret_key=SECRET_KEY,
                    ttl=dt.timedelta(hours=2),
                )
                for key, user in world.users.items()
            }
            for key, rep in (
                ("agent_a1", "rep_a1"),
                ("agent_a2", "rep_a2"),
                ("agent_s1", "rep_s1"),
            ):
                agent = world.agents[rep]
                created = await create_api_key(
                    session,
                    viewer=Viewer.system(agent.organization_id),
                    kind=ApiClientKind.AGENT,
                    name=key,
                    agent_id=agent.id,
                )
                tokens[key] = created.key
            north = Viewer.system(world.orgs["north"].id)
            for key, scopes in (("partner_n", None), ("partner_narrow", ["read:analytics"])):
                created = await create_api_key(
                    session, viewer=north, kind=ApiClientKind.PARTNER, name=key, scopes=scopes
                )
                tokens[key] = created.key
        seeded.orgs = {k: o.id for k, o in world.orgs.items()}
        seeded.teams = {k: t.id for k, t in world.teams.items()}
        seeded.users = {k: u.id for k, u in world.users.items()}
        seeded.agents = {k: a.id for k, a in world.agents.items()}
        seeded.actions = {k: [a.id for a in actions] for k, actions in world.actions.items()}
        for rep in REPS:
            agent = world.agents[rep]
            system = Viewer.system(agent.organization_id)
            recorded = {}
            for kind in ("label", "reply"):
                recorded[kind] = await submit_action(
                    state,
                    system,
                    ActionInput(
                        action_type="email",
                        confidence=0.3,
                        idempotency_key=f"e2e-{rep}-{kind}",
                        occurred_at=sent,
                        agent_id=agent.id,
                        message_external_id=f"<{rep}-{kind}@mail>",
                        thread_external_id=f"thread-{rep}-{kind}",
                    ),
                    now=sent,
                )
                seeded.actions[rep].append(recorded[kind].action.id)
            replies = [
                SignalInput(
                    kind="email.replied",
                    source="esp",
                    external_id=f"{rep}-{kind}",
                    occurred_at=sent + dt.timedelta(hours=1),
                    message_external_id=f"<{rep}-{kind}@mail>",
                    payload=payload,
                )
                for kind, payload in (("label", {}), ("reply", {"sentiment": "positive"}))
            ]
            result = await submit_signals(state, system, replies, now=sent + dt.timedelta(hours=2))
            assert (result.needs_label, result.resolved) == (1, 3), result
            for kind, target in (("label", seeded.labelling), ("reply", seeded.resolved)):
                target[rep] = next(
                    o.id for o in recorded[kind].outcomes if o.outcome_type == "email_reply"
                )
            async with state.sessions() as session:
                author = await viewer_for_user(session, world.users[rep])
            rated = await submit_rating(
                state,
                author,
                FeedbackInput(channel="dashboard", action_id=recorded["label"].action.id, rating=4),
                now=sent + dt.timedelta(hours=3),
            )
            seeded.feedback[rep] = rated.feedback.id
    finally:
        await state.close()
    return tokens, seeded


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[tuple[str, str | None]]:
    """A migrated, empty database of `kind` and the broker to use with it: (url, redis url)."""
    if kind == "sqlite":
        yield migrated_sqlite(workdir / "e2e.db"), None
        return
    require_redis()
    with fresh_postgres("sal_e2e") as url:
        yield url, REDIS_URL


@contextmanager
def deploy(kind: str, workdir: Path) -> Iterator[Deployment]:
    """A seeded database of `kind` ("sqlite" or "postgresql") and a server on it."""
    with database(kind, workdir) as (url, redis_url):
        # the real clock: the server, in its own process, runs on it
        seeded_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        tokens, seeded = asyncio.run(_seed(url, seeded_at))
        with (
            running_server(
                url, workdir, secret_key=SECRET_KEY, redis_url=redis_url, environment=UNLIMITED
            ) as (base_url, _),
            httpx2.Client(base_url=base_url, timeout=30) as http,
        ):
            yield Deployment(kind, base_url, url, tokens, seeded, http, seeded_at)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """A fresh world and server per test module and configuration: each module may count the
    seeded rows, and no server outlives its module."""
    with deploy(request.param, tmp_path_factory.mktemp(f"e2e-{request.param}")) as running:
        yield running


@pytest.fixture(scope="session")
def backlog() -> Iterator[str]:
    """A PostgreSQL database of expired reply windows (tests/e2e/backlog.py), to be copied."""
    from tests.e2e.backlog import BACKLOG, seed_backlog

    require_redis()
    with fresh_postgres("sal_backlog") as url:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        asyncio.run(seed_backlog(url, now, count=BACKLOG))
        yield url
