"""The brokers: in-process fan-out, and Redis fan-out between independent broker instances."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from backend.pubsub import InProcessBroker, RedisBroker


async def _next(iterator, timeout: float = 5.0):
    return await asyncio.wait_for(anext(iterator), timeout)


async def test_in_process_fan_out_in_order() -> None:
    broker = InProcessBroker()
    first, second = broker.subscribe("calibration"), broker.subscribe("calibration")
    pending = [asyncio.ensure_future(_next(first)), asyncio.ensure_future(_next(second))]
    for _ in range(20):  # let both subscriptions start
        await asyncio.sleep(0)
    assert broker.subscriber_count("calibration") == 2
    await broker.publish("calibration", {"version": 1})
    await broker.publish("other", {"version": 99})
    assert [await p for p in pending] == [{"version": 1}, {"version": 1}]
    await broker.publish("calibration", {"version": 2})
    assert await _next(first) == {"version": 2}
    await first.aclose()
    await second.aclose()
    assert broker.subscriber_count("calibration") == 0


async def test_redis_fan_out_between_processes(redis_url: str) -> None:
    publisher, listener = RedisBroker(redis_url, prefix="t:"), RedisBroker(redis_url, prefix="t:")
    stream = listener.subscribe("policy")
    received = asyncio.ensure_future(_next(stream))
    probe = aioredis.from_url(redis_url)
    for _ in range(100):  # wait until the subscription is live on the server
        if (await probe.pubsub_numsub("t:policy"))[0][1] > 0:
            break
        await asyncio.sleep(0.02)
    await publisher.publish("policy", {"version": 3, "actionType": "email"})
    assert await received == {"version": 3, "actionType": "email"}
    await stream.aclose()
    await probe.aclose()
    await publisher.close()
    await listener.close()
