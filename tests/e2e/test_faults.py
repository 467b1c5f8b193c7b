"""Faults, on real servers: PostgreSQL and Redis go away (the server reaches them through a TCP
proxy that the test cuts: every connection dropped, new ones refused) and come back; the worker
is killed mid-batch. The server answers 503 with Retry-After and a coded error while a peer is
down, recovers by itself, and no write is lost or counted twice once clients retry."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
import pytest
from sqlalchemy import func, select

from backend.actions.models import AgentAction
from backend.database import create_engine
from tests.conftest import REDIS_URL, fresh_postgres, require_redis
from tests.e2e.backlog import BACKLOG, copy_of, start_worker, window_state
from tests.e2e.conftest import SECRET_KEY, UNLIMITED, _seed
from tests.proxy import proxy
from tests.servers import running_server

RECORD = """mutation($input: RecordActionInput!) { recordAction(input: $input) {
  action { id } created errors { code field message } } }"""
DEADLINE = 60.0  # seconds a recovery may take on a loaded machine (not a timed assertion)


def _through(url: str, port: int) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) > 1 else host))


def _upstream(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


class Client:
    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx2.Client(base_url=base_url, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}"}

    def record(self, key: str) -> httpx2.Response:
        body = {
            "query": RECORD,
            "variables": {
                "input": {
                    "actionType": "email",
                    "confidence": 0.6,
                    "idempotencyKey": key,
                    "messageExternalId": f"<{key}@mail>",
                    "threadExternalId": f"thread-{key}",
                }
            },
        }
        return self.http.post("/graphql", json=body, headers=self.headers)

    def record_until_stored(self, key: str) -> dict[str, Any]:
        """A client that retries what was not answered 200, as a 503 asks."""
        deadline = time.monotonic() + DEADLINE
        while True:
            response = self.record(key)
            if response.status_code == 200:
                return response.json()["data"]["recordAction"]
            _assert_unavailable(response)
            assert time.monotonic() < deadline, response.text
            time.sleep(0.2)


def _assert_unavailable(response: httpx2.Response) -> None:
    """A coded 503 that asks to retry later: never a 500 or a masked error."""
    assert response.status_code == 503, (response.status_code, response.text)
    assert int(response.headers["retry-after"]) > 0
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "unavailable", error


async def _count_actions(url: str, prefix: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(AgentAction.idempotency_key, func.count())
                .where(AgentAction.idempotency_key.like(f"{prefix}%"))
                .group_by(AgentAction.idempotency_key)
            )
            return {key: n for key, n in rows}
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh PostgreSQL database with the e2e world (tokens by name)."""
    require_redis()
    with fresh_postgres("sal_faults") as url:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        tokens, _ = asyncio.run(_seed(url, now))
        yield url, tokens


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path


@pytest.mark.xdist_group("faults")  # one worker: `seeded` is built once
def test_postgresql_outage_answers_503_and_nothing_is_lost_or_doubled(
    seeded: tuple[str, dict[str, str]], logs: Path, request: pytest.FixtureRequest
) -> None:
    url, tokens = seeded
    with (
        proxy(_upstream(url, 5432)) as database,
        running_server(
            _through(url, database.port),
            logs,
            secret_key=SECRET_KEY,
            redis_url=REDIS_URL,
            environment=UNLIMITED,
        ) as (base_url, _),
    ):
        client = Client(base_url, tokens["agent_a1"])
        request.addfinalizer(client.http.close)
        before = client.record("pg-before")
        assert before.status_code == 200 and before.json()["data"]["recordAction"]["created"]
        database.cut()
        during = [client.record(f"pg-during-{i}") for i in range(5)]
        for response in during:
            _assert_unavailable(response)
        readiness = httpx2.get(f"{base_url}/readyz", timeout=30)
        assert readiness.status_code == 503
        database.restore()
        # The server recovers by itself; the client retries what it was told to retry.
        stored = [client.record_until_stored(f"pg-during-{i}") for i in range(5)]
        assert all(s["created"] and not s["errors"] for s in stored), stored
        again = [client.record_until_stored(f"pg-during-{i}") for i in range(5)]
        assert [a["created"] for a in again] == [False] * 5  # a retry counts once
        assert client.record_until_stored("pg-before")["created"] is False
    counts = asyncio.run(_count_actions(url, "pg-"))
    assert counts == {"pg-before": 1, **{f"pg-during-{i}": 1 for i in range(5)}}


@pytest.mark.xdist_group("faults")  # one worker: `seeded` is built once
def test_redis_outage_never_answers_500_and_nothing_is_lost_or_doubled(
    seeded: tuple[str, dict[str, str]], logs: Path, request: pytest.FixtureRequest
) -> None:
    url, tokens = seeded
    with (
        proxy(_upstream(REDIS_URL, 6379)) as broker,
        running_server(
            url,
            logs,
            secret_key=SECRET_KEY,
            redis_url=_through(REDIS_URL, broker.port),
            environment=UNLIMITED,
        ) as (base_url, _),
    ):
        client = Client(base_url, tokens["agent_a1"])
        request.addfinalizer(client.http.close)
        broker.cut()
        answers = [client.record(f"redis-during-{i}") for i in range(5)]
        for response in answers:  # stored (events wait for the broker) or a coded 503
            if response.status_code != 200:
                _assert_unavailable(response)
            else:
                assert response.json()["data"]["recordAction"]["errors"] == []
        broker.restore()
        for i in range(5):
            client.record_until_stored(f"redis-during-{i}")
        assert client.record_until_stored("redis-during-0")["created"] is False
    counts = asyncio.run(_count_actions(url, "redis-"))
    assert counts == {f"redis-during-{i}": 1 for i in range(5)}


# -- the worker killed mid-batch ----------------------------------------------------------------


@pytest.mark.xdist_group("backlog")
def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(backlog: str, tmp_path: Path) -> None:
    """1,200 e-mails whose reply windows closed (decided in batches of 500); a worker is killed
    (SIGKILL) once it has decided some, a second one finishes: every outcome decided once, each
    counted once in the calibration rollup (no increment lost or applied twice)."""
    with copy_of(backlog, "sal_worker") as url:
        due, decided_before, counted_before = asyncio.run(window_state(url))
        assert due >= BACKLOG
        first = start_worker(url, tmp_path, "worker-1")
        try:
            deadline = time.monotonic() + DEADLINE
            while True:
                open_due, decided, _ = asyncio.run(window_state(url))
                if decided > decided_before:
                    break
                assert first.poll() is None, (tmp_path / "worker-1.log").read_text()
                assert time.monotonic() < deadline, "the worker decided nothing"
                time.sleep(0.05)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        left, _, _ = asyncio.run(window_state(url))
        second = start_worker(url, tmp_path, "worker-2")
        try:
            deadline = time.monotonic() + DEADLINE
            while (state := asyncio.run(window_state(url)))[0] > 0:
                assert second.poll() is None, (tmp_path / "worker-2.log").read_text()
                assert time.monotonic() < deadline, state
                time.sleep(0.2)
        finally:
            second.send_signal(signal.SIGINT)
            second.wait(timeout=20)
        open_due, decided, counted = asyncio.run(window_state(url))
        assert open_due == 0
        assert decided - decided_before == due
        assert counted - counted_before == BACKLOG  # each e-mail's reply outcome calibrates
        assert left > 0  # the kill did land mid-way (else the test proves little)
