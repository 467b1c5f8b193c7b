"""Benchmark of a list page against PostGraphile 4 on the same PostgreSQL database.

The page: the 50 newest actions of one agent (rep1's), each with its outcomes. This API answers
``actions(filter: {agentId}, first: 50)``; PostGraphile (npm ``postgraphile@4``, installed by
this bench into ~/.cache/sal-bench/postgraphile, Node 20) answers ``allAgentActions(condition:
{agentId}, orderBy: [OCCURRED_AT_DESC, ID_DESC], first: 50)`` with ``outcomesByActionId``. The
bench checks that both answers hold the same rows (ids, types, confidences, times; the outcomes'
ids, types, statuses, levels and values), then:

1. **round trips per request**: each server started once more on a counting proxy in front of
   PostgreSQL (``bench/postgraphile.py``), ``--trips`` requests after a warm-up, counting each
   ``Sync`` or simple ``Query`` message (BEGIN and COMMIT included, connection checks too);
2. **requests per second with one client and latency**: a closed loop of one keep-alive client
   (``bench/http_load.py``), in segments of ``--seconds`` ordered this, PostGraphile,
   PostGraphile, this, ``--rounds`` times (the machine's background load drifts; alternating
   exposes both alike), with each server's own CPU time per request from /proc.

In a scratch database (``bench_lists_<random>``: migrated, seeded with the demo data, ANALYZEd,
dropped at the end). This API runs as ``python -m backend serve`` (``bench/servers.py``) with
rep1's token; PostGraphile has no authentication (it reads as the database owner).

Run: ``.venv/bin/python bench/bench_list_pages.py`` (about 2 minutes). Talks only to 127.0.0.1
(and to the npm registry the first time, to install PostGraphile).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from strawberry.relay import GlobalID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.demo.seed import seed_demo
from backend.handlers import open_state
from backend.migrations import upgrade
from backend.settings import load_settings
from backend.unit_of_work import transaction
from bench.http_load import HttpPool, Run, Target, closed_loop
from bench.postgraphile import RoundTrips, install, postgraphile_server, version
from bench.scratch_world import prepare, scratch_database
from bench.servers import app_server

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET_KEY = "bench-lists-" + secrets.token_hex(16)
PAGE = 50
THIS = """query($agent: ID!, $first: Int) {
  actions(filter: {agentId: $agent}, first: $first) {
    edges { node { id actionType confidence occurredAt
      outcomes { id outcomeType status level value } } }
  }
}"""
THIS_COUNTED = THIS.replace(
    "actions(filter: {agentId: $agent}, first: $first) {",
    "actions(filter: {agentId: $agent}, first: $first) { totalCount",
)
PEER = """query($agent: BigInt!, $first: Int) {
  allAgentActions(condition: {agentId: $agent}, orderBy: [OCCURRED_AT_DESC, ID_DESC],
                  first: $first) {
    nodes { id actionType confidence occurredAt
      outcomesByActionId(orderBy: ID_ASC) { nodes { id outcomeType status level value } } }
  }
}"""
NAMES = {"this": "this API", "peer": "PostGraphile 4"}


# -- the answers -------------------------------------------------------------------------------

Rows = list[tuple[Any, ...]]


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC)


def rows_of_this(body: bytes) -> Rows:
    data = json.loads(body)
    if data.get("errors"):
        raise ValueError(f"errors: {data['errors']}")
    return [
        (
            int(GlobalID.from_id(n["id"]).node_id),
            n["actionType"],
            n["confidence"],
            _time(n["occurredAt"]),
            [
                (
                    int(GlobalID.from_id(o["id"]).node_id),
                    o["outcomeType"],
                    o["status"].lower(),
                    o["level"],
                    o["value"],
                )
                for o in n["outcomes"]
            ],
        )
        for n in (e["node"] for e in data["data"]["actions"]["edges"])
    ]


def rows_of_peer(body: bytes) -> Rows:
    data = json.loads(body)
    if data.get("errors"):
        raise ValueError(f"errors: {data['errors']}")
    return [
        (
            int(n["id"]),
            n["actionType"],
            n["confidence"],
            _time(n["occurredAt"]),
            [
                (int(o["id"]), o["outcomeType"], o["status"], o["level"], o["value"])
                for o in n["outcomesByActionId"]["nodes"]
            ],
        )
        for n in data["data"]["allAgentActions"]["nodes"]
    ]


READ = {"this": rows_of_this, "peer": rows_of_peer}


def check_of(kind: str) -> Callable[[bytes], str | None]:
    def check(body: bytes) -> str | None:
        try:
            rows = READ[kind](body)
        except (ValueError, KeyError, TypeError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None if len(rows) == PAGE else f"{len(rows)} rows"

    return check


# -- the run -----------------------------------------------------------------------------------


def bodies(agent_id: int, *, counted: bool = False) -> dict[str, bytes]:
    agent = str(GlobalID("Agent", str(agent_id)))
    this = {
        "query": THIS_COUNTED if counted else THIS,
        "variables": {"agent": agent, "first": PAGE},
    }
    peer = {"query": PEER, "variables": {"agent": str(agent_id), "first": PAGE}}
    return {"this": json.dumps(this).encode(), "peer": json.dumps(peer).encode()}


def libpq_url(url: str, *, port: int | None = None) -> str:
    """``postgresql+asyncpg://...:5432/db`` as a libpq URL, optionally on another port."""
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    return plain if port is None else plain.replace(":5432/", f":{port}/")


async def round_trips(
    url: str, cli: Path, logs: Path, token: str, payload: dict[str, bytes], args: Any
) -> dict[str, float]:
    """Round trips per request of each server (and of this API when asked for `totalCount`),
    each server started on the counting proxy."""
    counter = RoundTrips()
    found: dict[str, float] = {}
    with counter.running() as port:
        proxied = libpq_url(url, port=port)
        with (
            app_server(
                proxied.replace("postgresql://", "postgresql+asyncpg://"),
                logs / "this-trips.log",
                redis_url=REDIS_URL,
                secret_key=SECRET_KEY,
                channel_prefix=f"benchlists{secrets.token_hex(4)}:",
            ) as (this_port, this_pid),
            postgraphile_server(cli, proxied, logs / "peer-trips.log") as (peer_port, peer_pid),
        ):
            servers = {"this": (this_port, this_pid), "peer": (peer_port, peer_pid)}
            cases = [
                ("this", payload["this"]),
                ("peer", payload["peer"]),
                ("this with totalCount", payload["this_counted"]),
            ]
            for name, body in cases:
                kind = "peer" if name == "peer" else "this"
                pool = HttpPool("127.0.0.1", servers[kind][0])
                target = Target(
                    kind, pool, "/graphql", _headers(kind, token), check_of(kind), servers[kind][1]
                )
                try:
                    await closed_loop(target, lambda b=body: b, clients=1, seconds=60, limit=20)
                    before = counter.count
                    run = await closed_loop(
                        target, lambda b=body: b, clients=1, seconds=600, limit=args.trips
                    )
                    if run.errors:
                        raise RuntimeError(f"{name}: {run.errors[:3]}")
                    found[name] = (counter.count - before) / run.completed
                finally:
                    await pool.close()
    return found


def _headers(kind: str, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if kind == "this" else {}


async def same_rows(targets: dict[str, Target], payload: dict[str, bytes]) -> Rows:
    answers = {}
    for kind, t in targets.items():
        status, body = await t.pool.post(t.path, payload[kind], t.headers)
        if status != 200:
            raise RuntimeError(f"{NAMES[kind]}: HTTP {status}: {body[:300]!r}")
        answers[kind] = READ[kind](body)
    if answers["this"] != answers["peer"]:
        raise RuntimeError(
            f"the servers disagree:\nthis API {answers['this'][:3]}\nPostGraphile "
            f"{answers['peer'][:3]}"
        )
    if len(answers["this"]) != PAGE:
        raise RuntimeError(f"a page of {len(answers['this'])} actions, not {PAGE}")
    return answers["this"]


async def throughput(
    targets: dict[str, Target], payload: dict[str, bytes], args: Any
) -> tuple[dict[str, Run], list[float]]:
    """Closed loop of one client in alternating segments; the pooled runs and each round's
    ratio of requests per second (this / PostGraphile)."""
    for kind, t in targets.items():  # untimed: connections, prepared statements, caches
        await closed_loop(t, lambda k=kind: payload[k], clients=1, seconds=60, limit=args.warm_up)
    pooled = {kind: Run() for kind in targets}
    ratios = []
    for _ in range(args.rounds):
        segment: dict[str, list[Run]] = {kind: [] for kind in targets}
        for kind in ("this", "peer", "peer", "this"):
            await asyncio.sleep(0.3)
            run = await closed_loop(
                targets[kind], lambda k=kind: payload[k], clients=1, seconds=args.seconds
            )
            if run.errors:
                raise RuntimeError(f"{NAMES[kind]}: {run.errors[:3]}")
            segment[kind].append(run)
            total = pooled[kind]
            total.latencies += run.latencies
            total.seconds += run.seconds
            total.server_cpu += run.server_cpu
        rate = {
            k: sum(r.completed for r in runs) / sum(r.seconds for r in runs)
            for k, runs in segment.items()
        }
        ratios.append(rate["this"] / rate["peer"])
    return pooled, ratios


async def run(args: argparse.Namespace) -> None:
    cli = install()
    async with scratch_database("bench_lists") as url:
        settings = load_settings(database_url=url, secret_key=SECRET_KEY, redis_url=None)
        await asyncio.to_thread(upgrade, url)
        state = open_state(settings)
        try:
            seeded = await seed_demo(state.sessions, progress=False)
            print(seeded.summary())
            async with transaction(state.sessions) as session:  # planner statistics
                await session.execute(text("ANALYZE"))
            world = await prepare(state, secret_key=SECRET_KEY)
            async with state.sessions() as session:
                history = await session.scalar(
                    text("SELECT count(*) FROM agent_actions WHERE agent_id = :a"),
                    {"a": world.dashboard_agent},
                )
        finally:
            await state.close()
        print(f"rep1's agent: {history:,} actions in its history; pages of {PAGE}")
        payload = {
            **bodies(world.dashboard_agent),
            "this_counted": bodies(world.dashboard_agent, counted=True)["this"],
        }
        with tempfile.TemporaryDirectory(prefix="bench_lists_") as logs:
            trips = await round_trips(url, cli, Path(logs), world.rep_token, payload, args)
            with (
                app_server(
                    url,
                    Path(logs) / "this.log",
                    redis_url=REDIS_URL,
                    secret_key=SECRET_KEY,
                    channel_prefix=f"benchlists{secrets.token_hex(4)}:",
                ) as (this_port, this_pid),
                postgraphile_server(cli, libpq_url(url), Path(logs) / "peer.log") as (
                    peer_port,
                    peer_pid,
                ),
            ):
                pools = {
                    "this": HttpPool("127.0.0.1", this_port),
                    "peer": HttpPool("127.0.0.1", peer_port),
                }
                pids = {"this": this_pid, "peer": peer_pid}
                try:
                    targets = {
                        kind: Target(
                            kind,
                            pools[kind],
                            "/graphql",
                            _headers(kind, world.rep_token),
                            check_of(kind),
                            pids[kind],
                        )
                        for kind in pools
                    }
                    rows = await same_rows(targets, payload)
                    outcomes = sum(len(r[4]) for r in rows)
                    print(f"both answer the same {len(rows)} actions and {outcomes} outcomes")
                    runs, ratios = await throughput(targets, payload, args)
                finally:
                    for pool in pools.values():
                        await pool.close()
    report(runs, ratios, trips, args, version(cli))


def report(
    runs: dict[str, Run], ratios: list[float], trips: dict[str, float], args: Any, release: str
) -> None:
    print(
        f"\nOne client, closed loop, {args.rounds} rounds of 4 segments of {args.seconds:g} s "
        f"(this, PostGraphile, PostGraphile, this); server CPU from /proc\n"
    )
    print("| server | requests/s | p50 ms | p99 ms | server CPU ms/req | round trips/req |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for kind in ("this", "peer"):
        r = runs[kind]
        print(
            f"| {NAMES[kind]} | {r.per_second():.1f} | {1000 * r.percentile(50):.2f} | "
            f"{1000 * r.percentile(99):.2f} | {r.cpu_ms_per_request():.2f} | {trips[kind]:.1f} |"
        )
    this, peer = runs["this"], runs["peer"]
    print(
        f"| this / PostGraphile | **{this.per_second() / peer.per_second():.2f}x** | "
        f"{this.percentile(50) / peer.percentile(50):.2f}x | "
        f"{this.percentile(99) / peer.percentile(99):.2f}x | "
        f"{this.cpu_ms_per_request() / peer.cpu_ms_per_request():.2f}x | |"
    )
    spread = ", ".join(f"{r:.2f}" for r in ratios)
    print(f"\nrequests/s ratio per round: {spread} (median {float(np.median(ratios)):.2f}x)")
    print(
        f"round trips per request of this API when `totalCount` is asked too: "
        f"{trips['this with totalCount']:.1f}"
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nPostGraphile {release}, Node {_node_version()}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {load}"
    )


def _node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="segment length (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of 4 segments (default 3)")
    parser.add_argument("--warm-up", type=int, default=100, help="untimed requests per server")
    parser.add_argument("--trips", type=int, default=50, help="requests counted for round trips")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
