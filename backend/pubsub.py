"""Publish/subscribe for live updates: an in-process broker, or Redis to fan out across processes.

Messages are JSON objects published on named channels. Both brokers hand them to local
subscribers the same way: each subscriber has a bounded queue, filled without ever waiting. A
subscriber whose queue is full is dropped (its iterator raises `SubscriberTooSlow`) so that it
never holds up the others; it reconnects and catches up through the events' versions.

`RedisBroker` keeps ONE pattern subscription per process (``PSUBSCRIBE <prefix>*``, opened with
the first local subscriber) and one dispatcher task that fans each message out to the local
subscribers of its channel. When that connection fails, every local subscriber is dropped with
`BrokerConnectionLost` rather than silently missing what was published meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = logging.getLogger(__name__)

# How far a subscriber may fall behind before it is dropped. Large enough for the largest
# burst one unit of work publishes at once (a batch of 1,000 signals), small enough to bound
# the memory a stalled client can hold.
SUBSCRIBER_QUEUE_SIZE = 2048


class SubscriptionLost(Exception):
    """A subscription ended by the broker, not by its subscriber: reconnect and re-query."""


class SubscriberTooSlow(SubscriptionLost):
    """The subscriber fell more than its queue's size behind and was dropped."""

    @classmethod
    def behind(cls, channel: str, size: int) -> SubscriberTooSlow:
        return cls(f"subscriber of {channel!r} fell {size} messages behind")


class BrokerConnectionLost(SubscriptionLost):
    """The broker's connection failed: what was published meanwhile may be missing."""


_END: Any = object()  # queued last, wakes a subscriber whose subscription has ended

Starter = Callable[[], Awaitable[None]]
Message = dict[str, Any]  # what the brokers carry: a JSON object
T = TypeVar("T")


class Subscription(Generic[T]):
    """One local subscriber of one channel: an async iterator over its bounded queue.

    It is registered when created, before the first ``anext`` (which first makes sure the broker
    is listening); ``aclose()`` unregisters it. When the broker ends it, what it had not read
    yet is discarded and its iterator raises the reason (`SubscriptionLost`) or stops.
    """

    def __init__(self, fanout: Fanout[T], channel: str, start: Starter) -> None:
        self.channel = channel
        self._fanout = fanout
        self._start: Starter | None = start
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=fanout.queue_size)
        self._finished = False
        self._error: SubscriptionLost | None = None

    def __aiter__(self) -> Subscription[T]:
        return self

    @property
    def ended(self) -> bool:
        return self._finished

    async def __anext__(self) -> T:
        if self._start is not None:
            start, self._start = self._start, None
            if not self._finished:
                await start()
        item: T = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # stays ended for any later call
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        self._finish(None)
        self._error = None

    def offer(self, message: T) -> None:
        """Queue without waiting; a full queue ends the subscription instead."""
        if self._finished:  # nothing more is read after its end: hold nothing for it
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self._finish(SubscriberTooSlow.behind(self.channel, self._queue.maxsize))

    def end(self, error: SubscriptionLost | None) -> None:
        self._finish(error)

    def _finish(self, error: SubscriptionLost | None) -> None:
        if self._finished:
            return
        self._finished, self._error = True, error
        self._fanout.discard(self)
        while not self._queue.empty():  # free what it will never read, at once
            self._queue.get_nowait()
        self._queue.put_nowait(_END)


class Fanout(Generic[T]):
    """The local subscribers by channel; `dispatch` never waits on any of them."""

    def __init__(self, queue_size: int) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self.queue_size = queue_size
        self._subscribers: dict[str, set[Subscription[T]]] = {}

    def add(self, channel: str, start: Starter) -> Subscription[T]:
        subscription = Subscription(self, channel, start)
        self._subscribers.setdefault(channel, set()).add(subscription)
        return subscription

    def discard(self, subscription: Subscription[T]) -> None:
        subscribers = self._subscribers.get(subscription.channel)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.channel]

    def dispatch(self, channel: str, message: T) -> None:
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.offer(message)

    def end_all(self, error: SubscriptionLost | None) -> None:
        for subscribers in list(self._subscribers.values()):
            for subscription in list(subscribers):
                subscription.end(error)

    def count(self, channel: str | None = None) -> int:
        if channel is None:
            return sum(len(s) for s in self._subscribers.values())
        return len(self._subscribers.get(channel, ()))


class Broker(Protocol):
    @property
    def client(self) -> aioredis.Redis | None:
        """The deployment's Redis (for state every process shares), if it has one."""
        ...

    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    def subscribe(self, channel: str) -> Subscription[Message]: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class InProcessBroker:
    """Fan-out to the subscribers of this process."""

    def __init__(self, *, queue_size: int = SUBSCRIBER_QUEUE_SIZE) -> None:
        self._fanout: Fanout[Message] = Fanout(queue_size)

    @property
    def client(self) -> None:
        return None

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        # The same shape as over Redis (ISO dates, plain types), parsed once for everyone.
        self._fanout.dispatch(channel, json.loads(json.dumps(message, default=str)))

    def subscribe(self, channel: str) -> Subscription[Message]:
        return self._fanout.add(channel, self.listening)

    async def listening(self) -> None:
        return None

    def subscriber_count(self, channel: str | None = None) -> int:
        return self._fanout.count(channel)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._fanout.end_all(None)


class RedisBroker:
    """Redis pub/sub: one pattern subscription per process, fanned out to local subscribers."""

    def __init__(
        self, url: str, *, prefix: str = "sal:", queue_size: int = SUBSCRIBER_QUEUE_SIZE
    ) -> None:
        self._url = url
        self._redis = aioredis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._fanout: Fanout[Message] = Fanout(queue_size)
        self._listener: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        # Named so operators (and tests) can find each process's one subscription in CLIENT LIST.
        self.listener_name = f"{prefix}listener:{os.getpid()}"

    @property
    def client(self) -> aioredis.Redis:
        return self._redis

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        await self._redis.publish(self._prefix + channel, json.dumps(message, default=str))

    def subscribe(self, channel: str) -> Subscription[Message]:
        return self._fanout.add(channel, self.listening)

    def subscriber_count(self, channel: str | None = None) -> int:
        return self._fanout.count(channel)

    async def listening(self) -> None:
        """Make sure this process's pattern subscription is live (confirmed by Redis)."""
        if self._listener is not None and not self._listener.done():
            return
        async with self._starting:
            if self._listener is not None and not self._listener.done():
                return
            # Its own connection, never retried silently: a lost connection must end the
            # subscriptions (see the module docstring), not skip messages behind their back.
            client = aioredis.from_url(
                self._url,
                decode_responses=True,
                client_name=self.listener_name,
                retry=Retry(NoBackoff(), 0),
                socket_keepalive=True,
            )
            pubsub = client.pubsub()
            try:
                await pubsub.psubscribe(self._prefix + "*")
                confirmation = await pubsub.get_message(timeout=5.0)
                if confirmation is None or confirmation.get("type") != "psubscribe":
                    raise ConnectionError("Redis did not confirm the pattern subscription")
            except Exception as exc:  # from here on, nothing published is missed
                await _quietly_close(pubsub, client)
                lost = BrokerConnectionLost(f"cannot subscribe: {type(exc).__name__}: {exc}")
                self._fanout.end_all(lost)
                raise lost from exc
            self._listener = asyncio.create_task(
                self._dispatch(pubsub, client), name="broker-dispatch"
            )

    async def _dispatch(self, pubsub: Any, client: Any) -> None:
        cut = len(self._prefix)
        reason = "the subscription ended"
        try:
            async for item in pubsub.listen():
                if item.get("type") != "pmessage":
                    continue
                try:
                    message = json.loads(item["data"])
                except ValueError:
                    log.warning("broker message on %s is not JSON; ignored", item.get("channel"))
                    continue
                self._fanout.dispatch(item["channel"][cut:], message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            await _quietly_close(pubsub, client)
        log.warning(
            "broker connection lost (%s); dropping %d subscribers", reason, self._fanout.count()
        )
        self._fanout.end_all(BrokerConnectionLost(f"broker connection lost ({reason})"))

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        self._fanout.end_all(None)
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        await self._redis.aclose()


async def _quietly_close(pubsub: Any, client: Any) -> None:
    with contextlib.suppress(Exception):
        await pubsub.aclose()
    with contextlib.suppress(Exception):
        await client.aclose()


def create_broker(redis_url: str | None, *, prefix: str = "sal:") -> InProcessBroker | RedisBroker:
    return RedisBroker(redis_url, prefix=prefix) if redis_url else InProcessBroker()
