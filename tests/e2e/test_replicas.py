"""Several processes on one PostgreSQL and one Redis, as a deployment scales out: each
principal's cost budget and rate limit are one, shared by every API process (not one per
replica); two workers on the same backlog do each job once."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import text

from backend.database import create_engine
from backend.migrations import head_revision
from tests.conftest import POSTGRES_ADMIN_URL, REDIS_URL, _admin, require_redis
from tests.e2e.backlog import BACKLOG, copy_of, start_worker, window_state
from tests.e2e.conftest import SECRET_KEY, Deployment, _seed
from tests.e2e.test_faults import DEADLINE
from tests.e2e.test_subscriptions_ws import POLICY_CHANGED, Policies, live, warm_up
from tests.servers import running_servers

# Small, and restored slowly: what one process charges must show on the other. The manager
# spends it by reading; the executive's writes have their own budget.
BUDGET = {"GRAPHQL_COST_BUDGET": "300", "GRAPHQL_COST_REFILL": "0.001"}
QUERY = "{ viewer { role agents { id name } } }"


@contextmanager
def empty_postgres(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database with no tables at all, dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await engine.dispose()


def _post(base_url: str, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = httpx2.post(
        f"{base_url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_two_api_processes_and_two_workers_scale_out_on_one_database(tmp_path: Path) -> None:
    """Started at once on an empty database, they migrate it together (one migrates, the others
    wait for it); then a budget spent on one API process is spent on the other, and an event
    caused through one reaches a subscriber of the other (through Redis)."""
    require_redis()
    with (
        empty_postgres("sal_replicas") as url,
        running_servers(
            2, url, tmp_path, secret_key=SECRET_KEY, redis_url=REDIS_URL, environment=BUDGET
        ) as (first, second),
    ):
        workers = [start_worker(url, tmp_path, f"worker-{i}") for i in range(2)]
        try:
            assert asyncio.run(_revision(url)) == head_revision()
            for log in tmp_path.glob("*.log"):
                assert "duplicate key" not in log.read_text(), log.read_text()
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            tokens, seeded = asyncio.run(_seed(url, now))
            token = tokens["manager_a"]

            spent = _post(first, token, QUERY)["extensions"]["cost"]
            seen = _post(second, token, QUERY)["extensions"]["cost"]
            assert (
                seen["currentlyAvailable"] <= spent["currentlyAvailable"] - seen["actualQueryCost"]
            )
            while (
                _post(first, token, QUERY)["extensions"]["cost"]["currentlyAvailable"]
                >= (seen["requestedQueryCost"])
            ):
                pass
            refused = _post(second, token, QUERY)
            assert refused["errors"][0]["extensions"]["code"] == "cost_exceeded", refused

            with (
                httpx2.Client(base_url=first, timeout=30) as one,
                httpx2.Client(base_url=second, timeout=30) as two,
            ):
                on_first = Deployment("postgresql", first, url, tokens, seeded, one, now)
                on_second = Deployment("postgresql", second, url, tokens, seeded, two, now)
                with live(on_first, "rep_a1") as rep:
                    rep.subscribe(POLICY_CHANGED, {"t": "email"})
                    policies = Policies(on_second)
                    warm_up(
                        "policyChanged", [(rep, lambda: policies.toggle("rep_a1", as_="exec_n"))]
                    )
                    policy = policies.toggle("rep_a1", as_="exec_n")
                    event = rep.next_event("policyChanged")
                    assert event["policyVersion"] == policy["version"]
            for i, worker in enumerate(workers):
                assert worker.poll() is None, (tmp_path / f"worker-{i}.log").read_text()
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(timeout=20)


@pytest.mark.xdist_group("backlog")
def test_two_workers_on_one_backlog_do_each_job_once(backlog: str, tmp_path: Path) -> None:
    """1,200 expired reply windows, two workers started together: each window is decided once
    and counted once in the calibration rollup (claims skip what the other holds)."""
    with copy_of(backlog, "sal_workers") as url:
        due, decided_before, counted_before = asyncio.run(window_state(url))
        workers = [start_worker(url, tmp_path, f"worker-{i}") for i in range(2)]
        try:
            deadline = time.monotonic() + DEADLINE
            while (state := asyncio.run(window_state(url)))[0] > 0:
                for i, w in enumerate(workers):
                    assert w.poll() is None, (tmp_path / f"worker-{i}.log").read_text()
                assert time.monotonic() < deadline, state
                time.sleep(0.2)
        finally:
            for w in workers:
                w.terminate()
                w.wait(timeout=20)
        _, decided, counted = asyncio.run(window_state(url))
        assert decided - decided_before == due
        assert counted - counted_before == BACKLOG
