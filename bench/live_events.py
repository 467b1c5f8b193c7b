"""Event latency for `bench_graphql.py`: many `graphql-transport-ws` subscribers in one
process, the moment each event is committed, and events triggered one after the other.

Every subscriber timestamps each message as it is read (parsing comes later). The commit is
observed on Redis: the server publishes an event right after its transaction commits and
before it answers the mutation (which then re-assesses calibration), so the bench's own
subscription to the event's Redis channel dates the commit more closely than the mutation's
response does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from backend.events.service import channel_for
from backend.state import AppState
from bench.graphql_documents import OUTCOME_NEEDS_LABEL, action_gid, signal_bodies
from bench.http_load import HttpPool, process_cpu_seconds
from bench.scratch_world import World, insert_actions
from graphql_schema.live.access import RECHECK_SECONDS

REDIS_PREFIX = "sal:"  # RedisBroker's default channel prefix


@dataclass
class Subscriber:
    ws: ClientConnection
    received: list[tuple[float, str]] = field(default_factory=list)  # (perf_counter, text)
    closed: str | None = None
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        try:
            async for message in self.ws:
                self.received.append((time.perf_counter(), str(message)))
        except ConnectionClosed as exc:
            self.closed = f"closed: {exc}"

    def receipt_of(self, action_global_id: str, since: int) -> float | None:
        """When the `outcomeNeedsLabel` event of that action arrived (messages from ``since``)."""
        for at, text in self.received[since:]:
            message = json.loads(text)
            if message.get("type") != "next":
                continue
            event = (message["payload"].get("data") or {}).get("outcomeNeedsLabel") or {}
            if event.get("actionId") == action_global_id:
                return at
        return None


async def open_subscribers(
    url: str, credential: str, count: int, *, parallel: int = 50
) -> list[Subscriber]:
    """``count`` connections, each acknowledged and subscribed to `outcomeNeedsLabel`."""
    gate = asyncio.Semaphore(parallel)

    async def one() -> Subscriber:
        async with gate:
            ws = await connect(
                url,
                subprotocols=[Subprotocol("graphql-transport-ws")],
                compression=None,
                ping_interval=None,
                open_timeout=60,
                close_timeout=2,
            )
            await ws.send(
                json.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"Authorization": f"Bearer {credential}"},
                    }
                )
            )
            ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"connection_init answered {ack}")
            await ws.send(
                json.dumps(
                    {"id": "1", "type": "subscribe", "payload": {"query": OUTCOME_NEEDS_LABEL}}
                )
            )
            subscriber = Subscriber(ws)
            subscriber.reader = asyncio.create_task(subscriber.read())
            return subscriber

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def close_subscribers(subscribers: list[Subscriber]) -> None:
    for subscriber in subscribers:
        if subscriber.reader is not None:
            subscriber.reader.cancel()
    await asyncio.gather(*(s.ws.close() for s in subscribers), return_exceptions=True)


async def wait_for_messages(
    subscribers: list[Subscriber], marks: list[int], *, timeout: float
) -> None:
    """Until every subscriber has a message past its mark (or ``timeout`` seconds)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if all(len(s.received) > m for s, m in zip(subscribers, marks, strict=True)):
            return
        await asyncio.sleep(0.02)


class CommitClock:
    """The bench's own subscription to one Redis channel: when each event was published."""

    def __init__(self, redis_url: str, channel: str) -> None:
        self._client = aioredis.from_url(redis_url, decode_responses=True)
        self._channel = channel
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self.seen: list[tuple[float, dict[str, Any]]] = []

    async def start(self) -> None:
        self._pubsub = self._client.pubsub()
        await self._pubsub.subscribe(self._channel)
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        async for item in self._pubsub.listen():
            if item.get("type") == "message":
                self.seen.append((time.perf_counter(), json.loads(item["data"])))

    def published_at(self, action_id: int) -> float | None:
        for at, message in self.seen:
            if message.get("data", {}).get("actionId") == action_id:
                return at
        return None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._client.aclose()


@dataclass
class EventTiming:
    sent: float
    published: float | None  # seen on Redis: the commit
    answered: float
    receipts: list[float | None]  # per subscriber
    server_cpu: float  # seconds
    client_cpu: float


async def event_latency(
    state: AppState,
    world: World,
    pool: HttpPool,
    *,
    port: int,
    pid: int,
    redis_url: str,
    subscribers: int,
    events: int,
    idle_event: bool,
) -> tuple[list[EventTiming], list[EventTiming], EventTiming | None]:
    """Subscribers, then events one after the other: warm-up events until every subscription
    has received one (the first also re-checks every connection's credential), the measured
    ones, and with ``idle_event`` one more after the connections' credential checks have
    expired (RECHECK_SECONDS of quiet), as the first event of a quiet period finds them."""
    action_ids = await insert_actions(state, world, world.dashboard_agent, events + 6)
    channel = REDIS_PREFIX + channel_for(world.organization_id, "outcome.needs_label")
    clock = CommitClock(redis_url, channel)
    await clock.start()
    started = time.perf_counter()
    opened = await open_subscribers(f"ws://127.0.0.1:{port}/graphql", world.rep_token, subscribers)
    print(f"{len(opened)} subscriptions opened in {time.perf_counter() - started:.1f} s")
    headers = {"Authorization": f"Bearer {world.dashboard_key}"}

    async def one_event() -> EventTiming:
        action_id = action_ids.pop()
        body, _ = signal_bodies([action_id], sentiment=False)  # no sentiment: to labelling
        marks = [len(s.received) for s in opened]
        cpu, client = process_cpu_seconds(pid), time.process_time()
        sent = time.perf_counter()
        status, answer = await pool.post("/graphql", body, headers)
        answered = time.perf_counter()
        if status != 200 or json.loads(answer)["data"]["recordSignals"]["needsLabel"] != 1:
            raise RuntimeError(f"the trigger sent no outcome to labelling: {answer[:300]!r}")
        await wait_for_messages(opened, marks, timeout=20)
        receipts = [
            s.receipt_of(action_gid(action_id), m) for s, m in zip(opened, marks, strict=True)
        ]
        timing = EventTiming(
            sent,
            clock.published_at(action_id),
            answered,
            receipts,
            process_cpu_seconds(pid) - cpu,
            time.process_time() - client,
        )
        await asyncio.sleep(0.3)
        return timing

    try:
        await asyncio.sleep(1.0)
        warm_ups = [await one_event()]
        while None in warm_ups[-1].receipts:
            if len(warm_ups) == 5:
                raise RuntimeError(
                    f"{warm_ups[-1].receipts.count(None)} subscribers never received an event"
                )
            warm_ups.append(await one_event())
        measured = [await one_event() for _ in range(events)]
        idle = None
        if idle_event:
            await asyncio.sleep(RECHECK_SECONDS + 1)
            idle = await one_event()
        closed = [s.closed for s in opened if s.closed]
        if closed:
            raise RuntimeError(f"{len(closed)} subscribers were closed: {closed[:3]}")
    finally:
        await close_subscribers(opened)
        await clock.close()
    return warm_ups, measured, idle
