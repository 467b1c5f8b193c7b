"""Outages (issue #16): every webhook answers an unreachable database or broker with 503 and
Retry-After in its own error shape, which providers retry, never a 500; nothing is stored, so
the retry is applied once. Real outages, made locally: a database URL on a closed port, and a
TCP proxy (tests/proxy.py) cut and restored between the app and PostgreSQL or Redis."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest
from slack_sdk.signature import SignatureVerifier
from starlette.testclient import TestClient

from backend.app import create_app
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_api_client
from backend.database import utcnow
from backend.handlers import open_state
from backend.settings import load_settings
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.backend.webhooks.conftest import Hooks, at, events
from tests.conftest import REDIS_URL, empty_database, require_redis
from tests.factories import TestClock, build_world
from tests.proxy import Proxy, proxy

EMAIL = "/webhooks/email-events"


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _through(url: str, port: int) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    user, _, _ = parts.netloc.rpartition("@")
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host))


def _upstream(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _assert_unavailable(response: object) -> None:
    status = getattr(response, "status_code", None)
    assert status == 503, getattr(response, "text", response)
    assert response.headers["Retry-After"] == "5"  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["code"] == "unavailable" and "retry" in body["error"]


@pytest.fixture
def unreachable() -> Iterator[tuple[TestClient, TestClock]]:
    """The app with its database on a closed local port (as when PostgreSQL is down)."""
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/down"
    clock = TestClock()
    settings = load_settings(database_url=url, worker_in_process=False)
    with TestClient(create_app(settings, clock=clock)) as client:
        yield client, clock


@pytest.mark.parametrize("path", [EMAIL, "/webhooks/crm"])
def test_signal_webhooks_answer_a_database_outage_with_503(unreachable, path: str) -> None:
    client, clock = unreachable
    body = json.dumps({"events": [{"id": "e-1"}]}).encode()
    headers = {
        "X-Organization": "north",
        "X-Signature": f"t={int(clock().timestamp())},v1={'0' * 64}",
        "Content-Type": "application/json",
    }
    _assert_unavailable(client.post(path, content=body, headers=headers))


@pytest.mark.parametrize("path", ["/webhooks/slack/interactions", "/webhooks/slack/events"])
def test_slack_webhooks_answer_a_database_outage_with_503(unreachable, path: str) -> None:
    client, clock = unreachable
    if path.endswith("events"):
        body = json.dumps({"type": "event_callback", "team_id": "T0NORTH01"}).encode()
    else:
        payload = {"type": "block_actions", "team": {"id": "T0NORTH01"}}
        body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(clock().timestamp()))
    signature = SignatureVerifier("any").generate_signature(timestamp=timestamp, body=body)
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": str(signature)}
    _assert_unavailable(client.post(path, content=body, headers=headers))


@pytest.fixture
async def through_proxy(postgresql_database_url: str) -> AsyncIterator[tuple[Hooks, Proxy]]:
    """The app reaching PostgreSQL through a proxy the test cuts; the test's own handle on the
    database goes directly."""
    direct = load_settings(database_url=postgresql_database_url, worker_in_process=False)
    state = open_state(direct)
    try:
        async with transaction(state.sessions) as session:
            world = await build_world(session, actions_per_agent=0)
            key = await create_api_key(
                session,
                viewer=Viewer.system(world.orgs["north"].id),
                kind=ApiClientKind.AGENT,
                name="agent",
                agent_id=world.agents["rep_a1"].id,
            )
            agent = await viewer_for_api_client(session, key.client)
        with proxy(_upstream(postgresql_database_url, 5432)) as link:
            proxied = load_settings(
                database_url=_through(postgresql_database_url, link.port),
                worker_in_process=False,
            )
            with TestClient(create_app(proxied)) as client:
                yield Hooks(client, state, agent, utcnow()), link
    finally:
        await empty_database(state.engine)
        await state.close()


async def test_postgresql_down_then_back_stores_the_retried_batch_once(through_proxy) -> None:
    hooks, link = through_proxy
    action_id = await hooks.email("m1")
    first = events(
        {"id": "ev-1", "type": "opened", "message_id": "<m1@mail>", "timestamp": at(hooks.now)}
    )
    assert hooks.post(EMAIL, first).json()["stored"] == 1
    batch = events(
        {
            "id": "ev-2",
            "type": "replied",
            "message_id": "<m1@mail>",
            "timestamp": at(hooks.now),
            "sentiment": "positive",
        }
    )
    link.cut()
    _assert_unavailable(hooks.post(EMAIL, batch))
    _assert_unavailable(hooks.post(EMAIL, batch))
    link.restore()
    # The pool drops the connections the outage broke; a retry or two later it is back.
    answers = [hooks.post(EMAIL, batch) for _ in range(3)]
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 503} and 200 in statuses, statuses
    stored = [a.json()["stored"] for a in answers if a.status_code == 200]
    assert stored[0] == 1 and all(s == 0 for s in stored[1:])
    assert await hooks.signal_count() == 2
    reply = (await hooks.outcomes(action_id))["email_reply"]
    assert (reply.status, reply.value) == ("resolved", 1.0)


@pytest.fixture
async def broker_through_proxy(
    postgresql_database_url: str,
) -> AsyncIterator[tuple[Hooks, Proxy]]:
    """The app publishing through Redis reached by a proxy the test cuts."""
    require_redis()
    direct = load_settings(database_url=postgresql_database_url, worker_in_process=False)
    state = open_state(direct)
    try:
        async with transaction(state.sessions) as session:
            world = await build_world(session, actions_per_agent=0)
            key = await create_api_key(
                session,
                viewer=Viewer.system(world.orgs["north"].id),
                kind=ApiClientKind.AGENT,
                name="agent",
                agent_id=world.agents["rep_a1"].id,
            )
            agent = await viewer_for_api_client(session, key.client)
        with proxy(_upstream(REDIS_URL, 6379)) as link:
            settings = load_settings(
                database_url=postgresql_database_url,
                redis_url=_through(REDIS_URL, link.port),
                worker_in_process=False,
            )
            with TestClient(create_app(settings)) as client:
                yield Hooks(client, state, agent, utcnow()), link
    finally:
        await empty_database(state.engine)
        await state.close()


async def test_redis_down_loses_and_doubles_nothing(broker_through_proxy) -> None:
    """Events are published after commit: with the broker down the batch is still stored and
    answered 200 (its live updates are lost and logged, the outcome is not), never a 500; the
    provider's retry after the broker is back counts once."""
    hooks, link = broker_through_proxy
    action_id = await hooks.email("m1")
    batch = events(
        {
            "id": "ev-1",
            "type": "replied",
            "message_id": "<m1@mail>",
            "timestamp": at(hooks.now),
            "sentiment": "positive",
        }
    )
    link.cut()
    answer = hooks.post(EMAIL, batch)
    assert answer.status_code == 200 and answer.json()["stored"] == 1
    link.restore()
    retried = hooks.post(EMAIL, batch)
    assert retried.status_code == 200 and retried.json()["duplicates"] == 1
    assert await hooks.signal_count() == 1
    reply = (await hooks.outcomes(action_id))["email_reply"]
    assert (reply.status, reply.value) == ("resolved", 1.0)
