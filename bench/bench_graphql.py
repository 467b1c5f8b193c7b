"""Benchmark of the GraphQL API against plain Starlette endpoints doing the same service calls.

In a scratch PostgreSQL database (created, migrated, seeded with the demo data, dropped at the
end) it starts two servers, each one uvicorn process on 127.0.0.1:

- **GraphQL**: the real app, ``python -m backend serve`` (Redis broker, limits raised so they
  never refuse the load);
- **plain**: ``bench/plain_endpoint.py``, the same authentication and service calls answered
  as plain JSON, without GraphQL.

and measures, in this order:

1. in-process (no server, no database) the GraphQL layer's time per request for a trivial query
   and for the whole dashboard document (``bench/strawberry_overhead.py``);
2. ``repDashboard`` (rep1's agent, default 30 days; every field but ``agent``): capacity with a
   closed loop of ``--clients`` clients, then open-loop latency at ``--load`` x the slower
   server's capacity, in 8 segments of ``--seconds`` ordered plain, GraphQL, GraphQL, plain,
   twice;
3. ``recordSignals`` batches of 100 ``email.replied`` signals (sentiment given, so each resolves
   the action's open outcomes) on fresh e-mail actions of another agent, the same way;
4. event latency: ``--subscribers`` WebSocket subscriptions to ``outcomeNeedsLabel`` (the rep's
   token), then ``--events`` mutations each sending one outcome to labelling, and one more after
   30 s of quiet (when every connection re-checks its credential); latency from the commit (the
   event seen on Redis by the bench, on this run's own channel prefix) to each subscriber's
   receipt. The same across two server processes: ``bench/bench_fanout.py``.

Latency is measured open-loop (``bench/http_load.py``): from each request's scheduled start to
its response, so queueing counts. Client and servers share this machine's cores; the servers'
own CPU time per request is read from /proc.

Run: ``.venv/bin/python bench/bench_graphql.py`` (about 5 minutes). Talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import secrets
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from strawberry.relay import GlobalID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.analytics import service as analytics
from backend.demo.seed import seed_demo
from backend.handlers import open_state
from backend.migrations import upgrade
from backend.settings import load_settings
from backend.state import AppState
from backend.unit_of_work import transaction
from bench import strawberry_overhead
from bench.graphql_documents import REP_DASHBOARD, signal_bodies
from bench.http_load import HttpPool, Target, measure
from bench.live_events import event_latency, run_prefix
from bench.reporting import print_events, print_overhead, print_workload
from bench.scratch_world import insert_actions, prepare, scratch_database
from bench.servers import servers
from graphql_schema.live.access import RECHECK_SECONDS

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET_KEY = "bench-graphql-" + secrets.token_hex(16)
BATCH = 100  # signals per recordSignals batch


# -- checks of the answers ---------------------------------------------------------------------


def dashboard_check(kind: str) -> Callable[[bytes], str | None]:
    def check(body: bytes) -> str | None:
        data = json.loads(body)
        if kind == "graphql":
            if data.get("errors"):
                return f"errors: {data['errors']}"
            data = data["data"]["repDashboard"]
        return None if data["metrics"]["interactions"] > 0 and data["daily"] else f"{data}"

    return check


def signals_check(kind: str, resolved: int) -> Callable[[bytes], str | None]:
    def check(body: bytes) -> str | None:
        data = json.loads(body)
        if kind == "graphql":
            if data.get("errors"):
                return f"errors: {data['errors']}"
            data = data["data"]["recordSignals"]
            if data["errors"]:
                return f"user errors: {data['errors']}"
        ok = data["resolved"] == resolved and data["stored"] == BATCH
        return None if ok else f"stored {data['stored']}, resolved {data['resolved']}"

    return check


async def same_dashboard(targets: dict[str, Target], bodies: dict[str, bytes]) -> None:
    """Both servers answer the same numbers (a few of them, compared as JSON)."""
    answers = {}
    for kind, t in targets.items():
        status, body = await t.pool.post(t.path, bodies[kind], t.headers)
        data = json.loads(body)
        answers[kind] = data["data"]["repDashboard"] if kind == "graphql" else data
        if status != 200:
            raise RuntimeError(f"{kind} dashboard: HTTP {status}: {body[:300]!r}")
    g, p = answers["graphql"], answers["plain"]
    mine = (
        g["metrics"]["interactions"],
        g["metrics"]["roi"]["hoursSaved"],
        [d["actions"] for d in g["daily"]],
    )
    theirs = (
        p["metrics"]["interactions"],
        p["metrics"]["roi"]["summary"]["hours_saved"],
        [d["actions"] for d in p["daily"]],
    )
    if mine != theirs:
        raise RuntimeError(f"the servers disagree: GraphQL {mine}, plain {theirs}")


# -- the run -----------------------------------------------------------------------------------


def raise_file_limit(needed: int) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return f"open files limit {soft} (enough)"
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return f"open files limit raised from {soft} to {target} (servers inherit it)"


async def run(args: argparse.Namespace) -> None:
    print(raise_file_limit(2 * args.subscribers + 1024))
    async with scratch_database("bench_graphql") as url:
        settings = load_settings(
            database_url=url,
            secret_key=SECRET_KEY,
            redis_url=None,
            graphql_requests_per_minute=10**8,
            graphql_cost_budget=10**9,
            graphql_cost_refill=10**9,
        )
        await asyncio.to_thread(upgrade, url)
        state = open_state(settings)
        try:
            await bench(state, url, args)
        finally:
            await state.close()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {load}"
    )


async def bench(state: AppState, url: str, args: argparse.Namespace) -> None:
    seeded = await seed_demo(state.sessions, progress=False)
    print(seeded.summary())
    async with transaction(state.sessions) as session:  # planner statistics, as in service
        await session.execute(text("ANALYZE"))
    world = await prepare(state, secret_key=SECRET_KEY)
    agent_gid = str(GlobalID("Agent", str(world.dashboard_agent)))
    dashboard = await analytics.rep_dashboard(
        state.reads, world.rep_viewer, agent_id=world.dashboard_agent
    )
    print_overhead(
        await strawberry_overhead.measure(
            state.settings,
            world.rep_viewer,
            world.signals_viewer,
            dashboard,
            agent_gid,
            count=args.overhead_count,
        )
    )
    loops = {
        "clients": args.clients,
        "capacity_seconds": args.capacity_seconds,
        "capacity_limit": args.capacity_limit,
        "load": args.load,
        "seconds": args.seconds,
    }
    prefix = run_prefix()  # this run's own channels (REDIS_CHANNEL_PREFIX of its server)
    with (
        tempfile.TemporaryDirectory(prefix="bench_graphql_") as logs,
        servers(
            url, Path(logs), redis_url=REDIS_URL, secret_key=SECRET_KEY, channel_prefix=prefix
        ) as running,
    ):
        pools = {kind: HttpPool("127.0.0.1", running[kind][0]) for kind in running}
        try:

            def target(kind: str, path: str, key: str, check: Any) -> Target:
                return Target(
                    kind,
                    pools[kind],
                    path,
                    {"Authorization": f"Bearer {key}"},
                    check,
                    running[kind][1],
                )

            dashboard_bodies = {
                "graphql": json.dumps(
                    {"query": REP_DASHBOARD, "variables": {"agent": agent_gid}}
                ).encode(),
                "plain": json.dumps({"agentId": world.dashboard_agent}).encode(),
            }

            async def dashboards(kind: str, count: int) -> list[bytes]:
                return [dashboard_bodies[kind]] * count

            targets = {
                k: target(k, p, world.rep_token, dashboard_check(k))
                for k, p in (("graphql", "/graphql"), ("plain", "/plain/rep-dashboard"))
            }
            await same_dashboard(targets, dashboard_bodies)
            work = await measure("repDashboard", targets, dashboards, warm_up=20, **loops)
            print_workload(work, unit="requests")

            async def batches(kind: str, count: int) -> list[bytes]:
                ids = await insert_actions(state, world, world.signals_agent, BATCH * count)
                made = [
                    signal_bodies(ids[i : i + BATCH], sentiment=True)
                    for i in range(0, len(ids), BATCH)
                ]
                return [g if kind == "graphql" else p for g, p in made]

            resolved = BATCH * len(world.outcomes)
            targets = {
                k: target(k, p, world.signals_key, signals_check(k, resolved))
                for k, p in (("graphql", "/graphql"), ("plain", "/plain/record-signals"))
            }
            work = await measure("recordSignals", targets, batches, warm_up=3, **loops)
            print_workload(work, unit="batches of 100")

            port, pid = running["graphql"]
            events = await event_latency(
                state,
                world,
                pools["graphql"],
                port=port,
                pid=pid,
                redis_url=REDIS_URL,
                channel_prefix=prefix,
                subscribers=args.subscribers,
                events=args.events,
                idle_event=args.idle_event,
            )
            print_events(*events, subscribers=args.subscribers)
        finally:
            for pool in pools.values():
                await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=8.0,
        help="length of each open-loop segment (8 per workload, 4 per server; default 8)",
    )
    parser.add_argument(
        "--load",
        type=float,
        default=0.5,
        help="open-loop rate as a fraction of the slower server's capacity",
    )
    parser.add_argument(
        "--clients", type=int, default=2, help="concurrent clients of the capacity loop (default 2)"
    )
    parser.add_argument("--capacity-seconds", type=float, default=4.0)
    parser.add_argument(
        "--capacity-limit",
        type=int,
        default=150,
        help="at most this many requests per capacity loop (default 150)",
    )
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=10, help="measured events (default 10)")
    parser.add_argument(
        "--no-idle-event",
        dest="idle_event",
        action="store_false",
        help=f"skip the event after {RECHECK_SECONDS:g} s of quiet",
    )
    parser.add_argument(
        "--overhead-count",
        type=int,
        default=50,
        help="dashboard executions per in-process timing, best of 7 (default 50)",
    )
    args = parser.parse_args()
    if not 0 < args.load < 1:
        parser.error("--load must be between 0 and 1 (open loop below capacity)")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
