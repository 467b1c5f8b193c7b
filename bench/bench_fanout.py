"""Live fan-out across two server processes: commit-to-receipt latency of one event for many
`graphql-transport-ws` subscribers, and the servers' resident memory before, with and after them.

In a scratch PostgreSQL database (migrated, seeded with the demo data, dropped at the end) it
starts two ``python -m backend serve`` processes on two ports sharing Redis under this run's own
REDIS_CHANNEL_PREFIX, opens ``--subscribers`` subscriptions to `outcomeNeedsLabel` (rep1's
token), half on each, then alternates, ``--events`` times:

- a **real event**: a `recordSignals` mutation on process A sends one outcome to labelling;
  latency from its commit (the event seen on Redis by the bench) to each subscriber's receipt;
- a **probe**, the baseline of the same moment: the bench publishes an event of the same shape
  straight on Redis; latency from the publish to its receipt by the bench's own raw Redis
  subscriber, and to each WebSocket subscriber's receipt (fan-out without the database).

Resident memory (VmRSS) of each server: before any subscription, with them (after the events),
after they closed (``--settle`` seconds later), and after as many were opened and closed again.

Run: ``.venv/bin/python bench/bench_fanout.py [--pythonmalloc malloc]`` (about 3 minutes). Talks
only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import redis.asyncio as aioredis
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.demo.seed import seed_demo
from backend.events.service import channel_for
from backend.handlers import open_state
from backend.migrations import upgrade
from backend.settings import load_settings
from backend.unit_of_work import transaction
from bench.bench_graphql import raise_file_limit
from bench.graphql_documents import action_gid
from bench.http_load import HttpPool
from bench.live_events import (
    CommitClock,
    EventTiming,
    Subscriber,
    close_subscribers,
    open_subscribers,
    run_prefix,
    trigger_event,
    wait_for_messages,
)
from bench.scratch_world import World, insert_actions, prepare, scratch_database
from bench.servers import app_server, resident_mib

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET_KEY = "bench-fanout-" + secrets.token_hex(16)
PROBE_IDS = 10**9  # action ids of probes: never a real action's


def probe_message(world: World, action_id: int) -> str:
    """An `outcome.needs_label` event as the events module publishes it (rep1's agent)."""
    return json.dumps(
        {
            "name": "outcome.needs_label",
            "organization_id": world.organization_id,
            "stream": "probe",
            "version": 0,
            "data": {
                "outcomeId": action_id,
                "agentId": world.dashboard_agent,
                "actionId": action_id,
                "actionType": "email",
                "outcomeType": "email_reply",
                "reason": "probe",
            },
        }
    )


async def probe(
    publisher: aioredis.Redis,
    channel: str,
    world: World,
    action_id: int,
    opened: list[Subscriber],
    clock: CommitClock,
) -> tuple[float | None, list[float | None]]:
    """Publish a probe on Redis: (raw Redis receipt, each subscriber's receipt), from the
    publish, in seconds."""
    marks = [len(s.received) for s in opened]
    published = time.perf_counter()
    await publisher.publish(channel, probe_message(world, action_id))
    await wait_for_messages(opened, marks, timeout=20)
    raw = clock.published_at(action_id)
    receipts = [s.receipt_of(action_gid(action_id), m) for s, m in zip(opened, marks, strict=True)]
    return (
        None if raw is None else raw - published,
        [None if r is None else r - published for r in receipts],
    )


def percentiles(values: list[float]) -> str:
    array = 1000 * np.asarray(values)
    return (
        f"p50 {np.percentile(array, 50):.1f} ms, p99 {np.percentile(array, 99):.1f} ms, "
        f"max {array.max():.1f} ms"
    )


def commit_latencies(timing: EventTiming) -> list[float]:
    if timing.published is None:
        raise RuntimeError("an event was never seen on Redis")
    return [r - timing.published for r in timing.receipts if r is not None]


async def run(args: argparse.Namespace) -> None:
    print(raise_file_limit(2 * args.subscribers + 1024))
    async with scratch_database("bench_fanout") as url:
        settings = load_settings(database_url=url, secret_key=SECRET_KEY, redis_url=None)
        await asyncio.to_thread(upgrade, url)
        state = open_state(settings)
        try:
            print((await seed_demo(state.sessions, progress=False)).summary())
            async with transaction(state.sessions) as session:
                await session.execute(text("ANALYZE"))
            world = await prepare(state, secret_key=SECRET_KEY)
            action_ids = await insert_actions(state, world, world.dashboard_agent, args.events + 6)
            await bench(url, world, action_ids, args)
        finally:
            await state.close()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {load}, servers' PYTHONMALLOC "
        f"{os.environ.get('PYTHONMALLOC', '(default: pymalloc)')}"
    )


async def bench(url: str, world: World, action_ids: list[int], args: argparse.Namespace) -> None:
    prefix = run_prefix()
    channel = prefix + channel_for(world.organization_id, "outcome.needs_label")
    with contextlib.ExitStack() as stack:
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_fanout_")))
        started = [
            stack.enter_context(
                app_server(
                    url,
                    logs / f"{name}.log",
                    redis_url=REDIS_URL,
                    secret_key=SECRET_KEY,
                    channel_prefix=prefix,
                )
            )
            for name in ("a", "b")
        ]
        pids = [pid for _, pid in started]
        pool = HttpPool("127.0.0.1", started[0][0])
        clock = CommitClock(REDIS_URL, channel)
        publisher = aioredis.from_url(REDIS_URL)
        await clock.start()
        opened: list[Subscriber] = []
        try:
            await asyncio.sleep(1.0)
            before = [resident_mib(p) for p in pids]
            half = args.subscribers // 2
            t0 = time.perf_counter()
            for (port, _), count in zip(started, (half, args.subscribers - half), strict=True):
                opened += await open_subscribers(
                    f"ws://127.0.0.1:{port}/graphql", world.rep_token, count
                )
            print(
                f"{len(opened)} subscriptions opened on 2 processes in "
                f"{time.perf_counter() - t0:.1f} s (channel prefix {prefix!r})"
            )
            await asyncio.sleep(1.0)

            async def real() -> EventTiming:
                timing = await trigger_event(
                    pool, world.dashboard_key, action_ids.pop(), opened, clock, pids
                )
                await asyncio.sleep(0.3)
                return timing

            warm_ups = [await real()]
            while None in warm_ups[-1].receipts:
                if len(warm_ups) == 5:
                    raise RuntimeError("some subscribers never received an event")
                warm_ups.append(await real())
            events: list[EventTiming] = []
            raw: list[float] = []
            probed: list[float] = []
            for i in range(args.events):
                events.append(await real())
                baseline, receipts = await probe(
                    publisher, channel, world, PROBE_IDS + i, opened, clock
                )
                if baseline is None or None in receipts:
                    raise RuntimeError("a probe was not received by everyone")
                raw.append(baseline)
                probed += [r for r in receipts if r is not None]
                await asyncio.sleep(0.3)
            during = [resident_mib(p) for p in pids]
            closed = [s.closed for s in opened if s.closed]
            if closed:
                raise RuntimeError(f"{len(closed)} subscribers were closed: {closed[:3]}")
        finally:
            await close_subscribers(opened)
            await clock.close()
            await publisher.aclose()
            await pool.close()
        await asyncio.sleep(args.settle)
        after = [resident_mib(p) for p in pids]
        again = await reopen_and_close(started, world, args)
    report(args, warm_ups, events, raw, probed, before, during, after, again)


async def reopen_and_close(
    started: list[tuple[int, int]], world: World, args: argparse.Namespace
) -> list[float]:
    """Open and close as many subscriptions again: the servers' RSS after that second cycle
    (freed memory kept by the allocator is reused, not added to)."""
    half = args.subscribers // 2
    opened: list[Subscriber] = []
    try:
        for (port, _), count in zip(started, (half, args.subscribers - half), strict=True):
            opened += await open_subscribers(
                f"ws://127.0.0.1:{port}/graphql", world.rep_token, count
            )
        await asyncio.sleep(1.0)
    finally:
        await close_subscribers(opened)
    await asyncio.sleep(args.settle)
    return [resident_mib(pid) for _, pid in started]


def report(
    args: argparse.Namespace,
    warm_ups: list[EventTiming],
    events: list[EventTiming],
    raw: list[float],
    probed: list[float],
    before: list[float],
    during: list[float],
    after: list[float],
    again: list[float],
) -> None:
    print(f"\n{args.subscribers} subscribers on 2 processes, {args.events} events of each kind\n")
    print("| event | received | commit->receipt p50 ms | p99 ms | max ms | server CPU ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    rows = [(f"warm-up {i + 1}", t) for i, t in enumerate(warm_ups)]
    rows += [(str(i + 1), t) for i, t in enumerate(events)]
    for label, t in rows:
        latency = 1000 * np.asarray(commit_latencies(t))
        print(
            f"| {label} | {latency.size} | {np.percentile(latency, 50):.1f} | "
            f"{np.percentile(latency, 99):.1f} | {latency.max():.1f} | "
            f"{1000 * t.server_cpu:.0f} |"
        )
    pooled = [x for t in events for x in commit_latencies(t)]
    print(f"\nreal events, commit -> WebSocket receipt ({len(pooled):,}): {percentiles(pooled)}")
    print(f"probes, publish -> WebSocket receipt ({len(probed):,}): {percentiles(probed)}")
    print(f"baseline, publish -> raw Redis receipt ({len(raw)}): {percentiles(raw)}")
    p99 = np.percentile(pooled, 99) / np.percentile(raw, 99)
    print(f"p99 of real events / p99 of the raw Redis baseline: {p99:.1f}x")
    print(
        "\n| server | RSS before MiB | with subscribers | after they closed | not returned "
        "| after a 2nd open/close |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, b, d, a, g in zip("ab", before, during, after, again, strict=True):
        print(f"| {name} | {b:.0f} | {d:.0f} | {a:.0f} | {a - b:+.0f} | {g:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="in all (default 1000)")
    parser.add_argument("--events", type=int, default=10, help="of each kind (default 10)")
    parser.add_argument(
        "--settle", type=float, default=5.0, help="seconds from closing to the last RSS reading"
    )
    parser.add_argument(
        "--pythonmalloc",
        choices=["pymalloc", "malloc"],
        help="PYTHONMALLOC of the servers (default: this environment's); with malloc, freed "
        "memory can go back to the system",
    )
    args = parser.parse_args()
    if args.pythonmalloc is not None:  # the servers inherit this process's environment
        os.environ["PYTHONMALLOC"] = args.pythonmalloc
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
