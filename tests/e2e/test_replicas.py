"""Several processes on one PostgreSQL and one Redis, as a deployment scales out: each
principal's cost budget and rate limit are one, shared by every API process (not one per
replica); two workers on the same backlog do each job once."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx2
import pytest

from tests.conftest import REDIS_URL, fresh_postgres, require_redis
from tests.e2e.backlog import BACKLOG, copy_of, start_worker, window_state
from tests.e2e.conftest import SECRET_KEY, _seed
from tests.e2e.test_faults import DEADLINE
from tests.servers import running_server

BUDGET = {"GRAPHQL_COST_BUDGET": "100", "GRAPHQL_COST_REFILL": "0.001"}
QUERY = "{ viewer { role agents { id name } } }"


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[str, dict[str, str]]]:
    require_redis()
    with fresh_postgres("sal_replicas") as url:
        tokens, _ = asyncio.run(_seed(url, dt.datetime.now(dt.UTC).replace(microsecond=0)))
        yield url, tokens


def _cost(base_url: str, token: str) -> dict[str, int]:
    response = httpx2.post(
        f"{base_url}/graphql",
        json={"query": QUERY},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["extensions"]["cost"]


def test_two_api_processes_share_one_budget(
    database: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, tokens = database
    token = tokens["rep_a1"]
    with ExitStack() as stack:
        first, second = (
            stack.enter_context(
                running_server(
                    url, tmp_path, secret_key=SECRET_KEY, redis_url=REDIS_URL, environment=BUDGET
                )
            )[0]
            for _ in range(2)
        )
        spent = _cost(first, token)
        assert spent["requestedQueryCost"] > 0
        after_first = spent["currentlyAvailable"]
        seen = _cost(second, token)  # the other process sees what the first one charged
        assert seen["currentlyAvailable"] <= after_first - seen["actualQueryCost"]
        assert seen["currentlyAvailable"] < 100 - spent["actualQueryCost"]
        # Spending the rest on either process refuses on both.
        while _cost(first, token)["currentlyAvailable"] >= seen["requestedQueryCost"]:
            pass
        refused = httpx2.post(
            f"{second}/graphql",
            json={"query": QUERY},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        assert refused["errors"][0]["extensions"]["code"] == "cost_exceeded", refused


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
