"""Token buckets: in this process, or in Redis, where every process (here: every client) sees
the same tokens; while Redis is unreachable, the process's own buckets stand in."""

from __future__ import annotations

import secrets

import pytest
import redis.asyncio as aioredis

from graphql_schema.buckets import Buckets, LocalStore, RedisStore
from tests.conftest import REDIS_URL, require_redis
from tests.servers import free_port

BUDGET = Buckets("cost", capacity=100, refill_per_second=1e-9)  # no refill within a test


async def _spend(store: LocalStore | RedisStore, principal: str) -> list[tuple[bool, float]]:
    return [
        await BUDGET.take(store, principal, 30),
        await BUDGET.take(store, principal, 30),
        await BUDGET.take(store, principal, 50),  # 40 left: refused, nothing taken
        (True, await BUDGET.give_back(store, principal, 20)),
        (True, await BUDGET.available(store, principal)),
        (True, await BUDGET.give_back(store, principal, 500)),  # never above capacity
    ]


EXPECTED = [(True, 70), (True, 40), (False, 40), (True, 60), (True, 60), (True, 100)]


async def test_a_local_bucket_takes_refuses_and_gives_back() -> None:
    result = await _spend(LocalStore(), "key:1")
    assert [(t, pytest.approx(v)) for t, v in result] == EXPECTED


async def test_redis_buckets_are_shared_by_every_client_and_kept_apart_by_principal() -> None:
    require_redis()
    prefix = f"test-{secrets.token_hex(4)}:"
    first, second = (aioredis.from_url(REDIS_URL, decode_responses=True) for _ in range(2))
    try:
        a, b = RedisStore(first, prefix=prefix), RedisStore(second, prefix=prefix)
        result = await _spend(a, "key:1")
        assert [(t, pytest.approx(v, abs=1e-3)) for t, v in result] == EXPECTED
        assert await BUDGET.take(a, "key:1", 80) == (True, pytest.approx(20, abs=1e-3))
        assert await BUDGET.available(b, "key:1") == pytest.approx(20, abs=1e-3)  # seen by b
        assert await BUDGET.available(b, "key:2") == pytest.approx(100)  # another principal
        requests = Buckets("requests", capacity=100, refill_per_second=1e-9)
        assert await requests.available(b, "key:1") == pytest.approx(100)  # another kind
    finally:
        for client in (first, second):
            keys = await client.keys(f"{prefix}*")
            if keys:
                await client.delete(*keys)
            await client.aclose()


async def test_an_unreachable_redis_falls_back_to_this_process() -> None:
    down = aioredis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", decode_responses=True, socket_connect_timeout=1
    )
    try:
        store = RedisStore(down, prefix="test:")
        result = await _spend(store, "key:1")
        assert [(t, pytest.approx(v)) for t, v in result] == EXPECTED
    finally:
        await down.aclose()
