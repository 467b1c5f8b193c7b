"""Event latency for `bench_graphql.py` and `bench_fanout.py`: many `graphql-transport-ws`
subscribers, the moment each event is committed, and events triggered one after the other.

Every subscriber timestamps each message as its bytes arrive (parsing comes later). The commit is
observed on Redis: the server publishes an event right after its transaction commits and
before it answers the mutation (which then re-assesses calibration), so the bench's own
subscription to the event's Redis channel dates the commit more closely than the mutation's
response does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from backend.events.service import channel_for
from backend.state import AppState
from bench.graphql_documents import OUTCOME_NEEDS_LABEL, action_gid, signal_bodies
from bench.http_load import HttpPool, process_cpu_seconds
from bench.scratch_world import World, insert_actions
from graphql_schema.live.access import RECHECK_SECONDS


def run_prefix() -> str:
    """A channel prefix of this run's own (REDIS_CHANNEL_PREFIX of the servers it starts), so
    that it hears only its servers' commits and two runs on one Redis never hear each other."""
    return f"bench{secrets.token_hex(4)}:"


class Subscriber(asyncio.Protocol):
    """One `graphql-transport-ws` client on a raw asyncio protocol: each chunk the kernel hands
    over is timestamped as it arrives and its frames kept as text (parsed later), so that a
    thousand subscribers in one client process cost microseconds per event, not a task wake-up
    and a parse each. It answers the server's pings; it reads unfragmented frames only (what the
    server sends)."""

    def __init__(self) -> None:
        self.received: list[tuple[float, str]] = []  # (perf_counter, text)
        self.closed: str | None = None
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._first: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self.closed or f"connection lost: {exc}"
        for waiter in (self._handshake, self._first):
            if not waiter.done():
                waiter.set_exception(ConnectionError(self.closed))

    def data_received(self, data: bytes) -> None:
        at = time.perf_counter()
        self._buffer += data
        if not self._handshake.done():
            head, found, rest = self._buffer.partition(b"\r\n\r\n")
            if not found:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self._handshake.set_exception(ConnectionError(head[:200].decode()))
                return
            self._buffer = rest
            self._handshake.set_result(None)
        while (frame := self._next_frame()) is not None:
            opcode, payload = frame
            if opcode == 0x1:
                text = payload.decode()
                if not self._first.done():
                    self._first.set_result(text)
                else:
                    self.received.append((at, text))
            elif opcode == 0x9:
                self.send_frame(payload, opcode=0xA)
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                self.closed = f"closed: {code} {payload[2:].decode(errors='replace')}"

    def _next_frame(self) -> tuple[int, bytes] | None:
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        length, offset = buffer[1] & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                return None
            length, offset = int.from_bytes(buffer[2:4], "big"), 4
        elif length == 127:
            if len(buffer) < 10:
                return None
            length, offset = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < offset + length:
            return None
        self._buffer = buffer[offset + length :]
        return buffer[0] & 0x0F, buffer[offset : offset + length]

    def send_frame(self, payload: bytes, *, opcode: int = 0x1) -> None:
        """One final frame, masked as a client's must be."""
        mask = secrets.token_bytes(4)
        size = len(payload)
        if size < 126:
            header = bytes([0x80 | opcode, 0x80 | size])
        elif size < 1 << 16:
            header = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
        else:
            header = bytes([0x80 | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert self.transport is not None
        self.transport.write(header + mask + masked)

    def send_json(self, message: dict[str, Any]) -> None:
        self.send_frame(json.dumps(message).encode())

    async def open(self, host: str, port: int, credential: str, timeout: float) -> None:
        """Handshake, `connection_init` (acknowledged), then `subscribe`."""
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        assert self.transport is not None
        self.transport.write(
            (
                f"GET /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
            ).encode()
        )
        await asyncio.wait_for(self._handshake, timeout)
        self.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {credential}"}}
        )
        ack = json.loads(await asyncio.wait_for(self._first, timeout))
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"connection_init answered {ack}")
        self.send_json({"id": "1", "type": "subscribe", "payload": {"query": OUTCOME_NEEDS_LABEL}})

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            with contextlib.suppress(Exception):
                self.send_frame((1000).to_bytes(2, "big"), opcode=0x8)
            self.transport.close()

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
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    gate = asyncio.Semaphore(parallel)
    loop = asyncio.get_running_loop()

    async def one() -> Subscriber:
        async with gate:
            _, subscriber = await loop.create_connection(Subscriber, host, int(port))
            await subscriber.open(host, int(port), credential, timeout=60)
            return subscriber

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def close_subscribers(subscribers: list[Subscriber]) -> None:
    for subscriber in subscribers:
        subscriber.close()
    await asyncio.sleep(0)


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


async def trigger_event(
    pool: HttpPool,
    credential: str,
    action_id: int,
    opened: list[Subscriber],
    clock: CommitClock,
    pids: list[int],
) -> EventTiming:
    """Send one outcome of ``action_id`` to labelling (through ``pool``'s server), then wait
    until every subscriber heard of it (20 s at most)."""
    body, _ = signal_bodies([action_id], sentiment=False)  # no sentiment: to labelling
    marks = [len(s.received) for s in opened]
    cpu, client = sum(process_cpu_seconds(p) for p in pids), time.process_time()
    sent = time.perf_counter()
    status, answer = await pool.post("/graphql", body, {"Authorization": f"Bearer {credential}"})
    answered = time.perf_counter()
    if status != 200 or json.loads(answer)["data"]["recordSignals"]["needsLabel"] != 1:
        raise RuntimeError(f"the trigger sent no outcome to labelling: {answer[:300]!r}")
    await wait_for_messages(opened, marks, timeout=20)
    receipts = [s.receipt_of(action_gid(action_id), m) for s, m in zip(opened, marks, strict=True)]
    return EventTiming(
        sent,
        clock.published_at(action_id),
        answered,
        receipts,
        sum(process_cpu_seconds(p) for p in pids) - cpu,
        time.process_time() - client,
    )


async def event_latency(
    state: AppState,
    world: World,
    pool: HttpPool,
    *,
    port: int,
    pid: int,
    redis_url: str,
    channel_prefix: str,
    subscribers: int,
    events: int,
    idle_event: bool,
) -> tuple[list[EventTiming], list[EventTiming], EventTiming | None]:
    """Subscribers, then events one after the other: warm-up events until every subscription
    has received one (the first also re-checks every connection's credential), the measured
    ones, and with ``idle_event`` one more after the connections' credential checks have
    expired (RECHECK_SECONDS of quiet), as the first event of a quiet period finds them."""
    action_ids = await insert_actions(state, world, world.dashboard_agent, events + 6)
    channel = channel_prefix + channel_for(world.organization_id, "outcome.needs_label")
    clock = CommitClock(redis_url, channel)
    await clock.start()
    started = time.perf_counter()
    opened = await open_subscribers(f"ws://127.0.0.1:{port}/graphql", world.rep_token, subscribers)
    print(f"{len(opened)} subscriptions opened in {time.perf_counter() - started:.1f} s")

    async def one_event() -> EventTiming:
        timing = await trigger_event(
            pool, world.dashboard_key, action_ids.pop(), opened, clock, [pid]
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
