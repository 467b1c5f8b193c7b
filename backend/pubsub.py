"""Publish/subscribe for live updates: an in-process broker, or Redis to fan out across processes.

Messages are JSON objects published on named channels. A subscriber gets every message published
on its channel after it subscribed, in order, from any process (Redis) or this process (in-process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

import redis.asyncio as aioredis

SUBSCRIBER_QUEUE_SIZE = 1000


class Broker(Protocol):
    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    def subscribe(self, channel: str) -> AsyncIterator[dict[str, Any]]: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class InProcessBroker:
    """Fan-out to the subscribers of this process. A slow subscriber drops its oldest messages
    rather than blocking publishers (clients recover through the events' `version`)."""

    def __init__(self) -> None:
        self._queues: defaultdict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        payload = json.loads(json.dumps(message, default=str))  # same shape as over Redis
        for queue in list(self._queues.get(channel, ())):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(payload)

    async def subscribe(self, channel: str) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE_SIZE)
        self._queues[channel].add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues[channel].discard(queue)
            if not self._queues[channel]:
                del self._queues[channel]

    def subscriber_count(self, channel: str) -> int:
        return len(self._queues.get(channel, ()))

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._queues.clear()


class RedisBroker:
    """Redis pub/sub: every server process subscribed to a channel receives each message."""

    def __init__(self, url: str, *, prefix: str = "sal:") -> None:
        self._redis = aioredis.from_url(url, decode_responses=True)
        self._prefix = prefix

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        await self._redis.publish(self._prefix + channel, json.dumps(message, default=str))

    async def subscribe(self, channel: str) -> AsyncIterator[dict[str, Any]]:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._prefix + channel)
        try:
            async for item in pubsub.listen():
                if item.get("type") == "message":
                    yield json.loads(item["data"])
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


def create_broker(redis_url: str | None) -> InProcessBroker | RedisBroker:
    return RedisBroker(redis_url) if redis_url else InProcessBroker()
