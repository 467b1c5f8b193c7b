"""The brokers: bounded per-subscriber queues, slow subscribers dropped without holding up the
others, and Redis fan-out through one pattern subscription per process."""

from __future__ import annotations

import asyncio
import secrets

import pytest
import redis.asyncio as aioredis

from backend.pubsub import (
    BrokerConnectionLost,
    InProcessBroker,
    RedisBroker,
    SubscriberTooSlow,
    create_broker,
)
from backend.settings import load_settings


async def _next(iterator, timeout: float = 5.0):
    return await asyncio.wait_for(anext(iterator), timeout)


async def _listeners(probe: aioredis.Redis, name: str) -> list[dict]:
    return [c for c in await probe.client_list() if c.get("name") == name]


@pytest.fixture
async def redis_pair(redis_url: str):
    """A publishing and a listening broker (two 'processes'), on a prefix of their own."""
    prefix = f"t{secrets.token_hex(4)}:"
    publisher = RedisBroker(redis_url, prefix=prefix)
    listener = RedisBroker(redis_url, prefix=prefix, queue_size=3)
    probe = aioredis.from_url(redis_url, decode_responses=True)
    try:
        yield publisher, listener, probe
    finally:
        await publisher.close()
        await listener.close()
        await probe.aclose()


async def test_in_process_fan_out_in_order() -> None:
    broker = InProcessBroker()
    first, second = broker.subscribe("calibration"), broker.subscribe("calibration")
    assert broker.subscriber_count("calibration") == 2  # registered at once, before iterating
    await broker.publish("calibration", {"version": 1})
    await broker.publish("other", {"version": 99})
    await broker.publish("calibration", {"version": 2})
    assert [await _next(first), await _next(first)] == [{"version": 1}, {"version": 2}]
    assert await _next(second) == {"version": 1}
    await first.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(first)
    await second.aclose()
    assert broker.subscriber_count() == 0


async def test_in_process_slow_subscriber_is_dropped_and_never_blocks_the_others() -> None:
    broker = InProcessBroker(queue_size=2)
    slow, fast = broker.subscribe("labels"), broker.subscribe("labels")
    received = []
    for version in range(1, 6):
        # Publishing never waits on a subscriber: each call returns at once.
        await asyncio.wait_for(broker.publish("labels", {"version": version}), 0.5)
        received.append((await _next(fast))["version"])
    assert received == [1, 2, 3, 4, 5]
    with pytest.raises(SubscriberTooSlow, match="fell 2 messages behind"):
        await _next(slow)  # dropped on the third message: what it held is gone with it
    with pytest.raises(SubscriberTooSlow):
        await _next(slow)  # and it stays dropped
    assert broker.subscriber_count("labels") == 1
    await broker.publish("labels", {"version": 6})
    assert await _next(fast) == {"version": 6}
    await broker.close()
    with pytest.raises(StopAsyncIteration):  # closing the broker ends everyone normally
        await anext(fast)


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="queue_size must be at least 1, got 0"):
        InProcessBroker(queue_size=0)


async def test_redis_fan_out_between_processes(redis_pair) -> None:
    publisher, listener, _ = redis_pair
    stream = listener.subscribe("org:1:policy.changed")
    await listener.listening()  # the pattern subscription is confirmed by Redis
    await publisher.publish("org:1:policy.changed", {"version": 3, "actionType": "email"})
    await publisher.publish("org:2:policy.changed", {"version": 9})  # another channel
    await publisher.publish("org:1:policy.changed", {"version": 4})
    assert await _next(stream) == {"version": 3, "actionType": "email"}
    assert await _next(stream) == {"version": 4}
    await stream.aclose()


async def test_deployments_on_one_redis_do_not_hear_each_other(redis_url: str) -> None:
    """Each deployment's REDIS_CHANNEL_PREFIX keeps its events to itself on a shared server."""
    prefix = f"t{secrets.token_hex(4)}"
    settings = {
        name: load_settings(redis_url=redis_url, redis_channel_prefix=f"{prefix}{name}:")
        for name in ("production", "staging")
    }
    brokers = {
        name: create_broker(s.redis_url, prefix=s.redis_channel_prefix)
        for name, s in settings.items()
    }
    try:
        heard = {name: broker.subscribe("org:1:labels") for name, broker in brokers.items()}
        await asyncio.gather(*(broker.listening() for broker in brokers.values()))
        await brokers["staging"].publish("org:1:labels", {"version": 1, "from": "staging"})
        await brokers["production"].publish("org:1:labels", {"version": 7, "from": "production"})
        assert await _next(heard["production"]) == {"version": 7, "from": "production"}
        assert await _next(heard["staging"]) == {"version": 1, "from": "staging"}
        with pytest.raises(TimeoutError):
            await _next(heard["production"], timeout=0.3)  # staging's event never came
    finally:
        for broker in brokers.values():
            await broker.close()


async def test_one_pattern_subscription_per_process(redis_pair) -> None:
    publisher, listener, probe = redis_pair
    streams = [listener.subscribe(f"org:{n % 2}:labels") for n in range(6)]
    await asyncio.gather(*(listener.listening() for _ in streams))
    [connection] = await _listeners(probe, listener.listener_name)
    assert (connection["psub"], connection["sub"]) == ("1", "0")
    await publisher.publish("org:0:labels", {"version": 1})
    await publisher.publish("org:1:labels", {"version": 2})
    versions = [(await _next(s))["version"] for s in streams]
    assert versions == [1, 2, 1, 2, 1, 2]


async def test_redis_slow_subscriber_is_dropped_and_never_blocks_the_others(redis_pair) -> None:
    publisher, listener, _ = redis_pair
    slow, fast = listener.subscribe("org:1:labels"), listener.subscribe("org:1:labels")
    await listener.listening()
    for version in range(1, 11):
        await publisher.publish("org:1:labels", {"version": version})
        assert (await _next(fast))["version"] == version  # queue size 3 would not hold 10
    with pytest.raises(SubscriberTooSlow):
        await _next(slow)
    assert listener.subscriber_count("org:1:labels") == 1


async def test_lost_connection_drops_every_subscriber_then_recovers(redis_pair) -> None:
    publisher, listener, probe = redis_pair
    first, second = listener.subscribe("org:1:a"), listener.subscribe("org:2:b")
    await listener.listening()
    [connection] = await _listeners(probe, listener.listener_name)
    await probe.execute_command("CLIENT", "KILL", "ID", connection["id"])
    for stream in (first, second):  # never a silent gap: they must reconnect and re-query
        with pytest.raises(BrokerConnectionLost):
            await _next(stream)
    assert listener.subscriber_count() == 0
    again = listener.subscribe("org:1:a")
    await listener.listening()  # a new pattern subscription
    await publisher.publish("org:1:a", {"version": 7})
    assert await _next(again) == {"version": 7}


async def test_unreachable_redis_ends_the_subscription() -> None:
    broker = RedisBroker("redis://127.0.0.1:1/0")
    stream = broker.subscribe("org:1:labels")
    with pytest.raises(BrokerConnectionLost, match="cannot subscribe"):
        await _next(stream)
    assert broker.subscriber_count() == 0
    await broker.close()
