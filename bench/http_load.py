"""Load generation for `bench_graphql.py`: a small HTTP/1.1 keep-alive client on raw asyncio
streams (a few µs of client CPU per request, which matters when client and servers share two
cores), a closed loop to find capacity, and an open loop at a fixed arrival rate.

Open loop: request *i* is due at ``t0 + i / rate`` and runs as its own task whatever happened
to the previous ones; its latency runs from its *scheduled* start to the end of the response,
so time spent queueing (in the client, the kernel or the server) counts, and a stall does not
hide behind fewer requests being sent (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

Check = Callable[[bytes], str | None]  # a response body -> what is wrong with it, or None
Supply = Callable[[str, int], Awaitable[list[bytes]]]  # (target, how many) -> request bodies
# Open-loop segments, alternating (ABBA twice): this machine's background load drifts, and
# short alternating segments expose both servers to it alike.
SEGMENTS = ("plain", "graphql", "graphql", "plain") * 2


class HttpPool:
    """Keep-alive connections to one host; opens another when all are busy. A connection idle
    for longer than ``max_idle`` seconds is dropped (servers close idle ones: uvicorn after
    5 s), and a request on a reused connection the server has closed meanwhile is sent again
    on a new one."""

    def __init__(self, host: str, port: int, *, max_idle: float = 3.0) -> None:
        self.host, self.port, self.max_idle = host, port, max_idle
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        while self._idle:
            reader, writer, since = self._idle.pop()
            if time.monotonic() - since < self.max_idle and not reader.at_eof():
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return reader, writer, False

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(body)}",
            "Content-Type: application/json",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        while True:
            reader, writer, reused = await self._connection()
            writer.write(request)
            try:
                status, answer, keep = await _read_response(reader)
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                if not reused:
                    raise
            except BaseException:
                writer.close()
                raise
        if keep:
            self._idle.append((reader, writer, time.monotonic()))
        else:
            writer.close()
        return status, answer

    async def close(self) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while (size := int((await reader.readline()).split(b";")[0], 16)) > 0:
            parts.append(await reader.readexactly(size))
            await reader.readline()
        await reader.readline()
        body = b"".join(parts)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, body, headers.get("connection", "").lower() != "close"


@dataclass(frozen=True)
class Target:
    """One endpoint under load: where, with which credential, and how to check answers."""

    name: str
    pool: HttpPool
    path: str
    headers: dict[str, str]
    check: Check
    pid: int  # the server process, for its CPU time


@dataclass
class Run:
    """What one target did during (one or more) measurement segments."""

    latencies: list[float] = field(default_factory=list)  # seconds, of successful requests
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the segments, from first due start to last response
    server_cpu: float = 0.0  # CPU seconds the server process used meanwhile

    @property
    def completed(self) -> int:
        return len(self.latencies)

    def per_second(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")

    def cpu_ms_per_request(self) -> float:
        done = self.completed + len(self.errors)
        return 1000 * self.server_cpu / done if done else float("nan")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _one(target: Target, body: bytes, due: float, run: Run) -> None:
    try:
        status, answer = await target.pool.post(target.path, body, target.headers)
        done = time.perf_counter()
        problem = f"HTTP {status}: {answer[:200]!r}" if status != 200 else target.check(answer)
    except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
        done, problem = time.perf_counter(), f"{type(exc).__name__}: {exc}"
    if problem is None:
        run.latencies.append(done - due)
    else:
        run.errors.append(problem)


async def closed_loop(
    target: Target,
    bodies: Callable[[], bytes],
    *,
    clients: int,
    seconds: float,
    limit: int | None = None,
) -> Run:
    """``clients`` loops sending the next request as soon as the previous one answered, for
    ``seconds`` (or until ``limit`` requests were sent): capacity at that concurrency."""
    run = Run()
    sent = 0
    cpu = process_cpu_seconds(target.pid)
    started = time.perf_counter()
    deadline = started + seconds

    async def client() -> None:
        nonlocal sent
        while time.perf_counter() < deadline and (limit is None or sent < limit):
            sent += 1
            await _one(target, bodies(), time.perf_counter(), run)

    await asyncio.gather(*(client() for _ in range(clients)))
    run.seconds = time.perf_counter() - started
    run.server_cpu = process_cpu_seconds(target.pid) - cpu
    return run


async def open_loop(target: Target, bodies: Sequence[bytes], *, rate: float, run: Run) -> None:
    """Send ``bodies[i]`` at ``t0 + i / rate``, each as its own task; add to ``run``."""
    cpu = process_cpu_seconds(target.pid)
    tasks = []
    started = time.perf_counter() + 0.05
    for i, body in enumerate(bodies):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(target, body, due, run)))
    await asyncio.gather(*tasks)
    run.seconds += time.perf_counter() - started
    run.server_cpu += process_cpu_seconds(target.pid) - cpu


@dataclass
class Workload:
    name: str
    capacity: dict[str, Run]
    rate: float
    runs: dict[str, Run]


async def measure(
    name: str,
    targets: dict[str, Target],
    supply: Supply,
    *,
    warm_up: int,
    clients: int,
    capacity_seconds: float,
    capacity_limit: int,
    load: float,
    seconds: float,
    order: Sequence[str] = SEGMENTS,
) -> Workload:
    """Warm-up, capacity with ``clients`` in a closed loop (``capacity_seconds``, at most
    ``capacity_limit`` requests), then open-loop segments of ``seconds`` in ``order`` at
    ``load`` x the slower target's capacity."""

    async def closed(kind: str, clients: int, seconds: float, limit: int) -> Run:
        bodies = iter(await supply(kind, limit))
        return await closed_loop(
            targets[kind], lambda: next(bodies), clients=clients, seconds=seconds, limit=limit
        )

    for kind in targets:  # untimed: connections, prepared statements, caches
        await closed(kind, 1, 60, warm_up)
    capacity = {}
    for kind in targets:
        capacity[kind] = await closed(kind, clients, capacity_seconds, capacity_limit)
        if capacity[kind].errors:
            raise RuntimeError(f"{name} on {kind}: {capacity[kind].errors[:3]}")
    rate = round(load * min(c.per_second() for c in capacity.values()), 1)
    count = max(1, round(rate * seconds))
    bodies = {kind: iter(await supply(kind, count * order.count(kind))) for kind in targets}
    runs = {kind: Run() for kind in targets}
    for kind in order:
        await asyncio.sleep(0.5)
        await open_loop(
            targets[kind], [next(bodies[kind]) for _ in range(count)], rate=rate, run=runs[kind]
        )
    return Workload(name, capacity, rate, runs)
