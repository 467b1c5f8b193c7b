"""Benchmark of the three dashboards on the demo data at 1x and at a larger scale (default 10x).

Two scratch PostgreSQL databases are created, migrated and seeded with the same demo (same
seed, same end of history: today at 00:00 UTC), one at scale 1 and one at ``--scale-large``,
then vacuumed and analysed. For each, the real app runs as its own server
(``python -m backend serve``, limits raised so they never refuse), and the bench sends, one
request at a time, each dashboard's whole document (``bench/graphql_documents.py``, default
range: the last 30 days) with a real token of a user allowed to read it:

- ``repDashboard``: rep1's agent, as rep1;
- ``teamDashboard``: manager1's team, as manager1;
- ``executiveDashboard``: the organisation ``demo``, as its executive.

Requests go in segments of ``--per-segment``, ordered 1x, large, large, 1x in each of
``--rounds`` rounds (each round goes through the three dashboards), so that the machine's
background load falls on both scales alike. Latency is the client's, from sending to the end
of the answer; the server's CPU time per request is read from /proc, and the rest of the
latency (*wait*: PostgreSQL's time, mostly) is shown in ms and as a share of the latency.

Seeding 10x takes minutes: ``--keep`` leaves both databases in place and prints their names,
``--reuse SMALL LARGE`` measures existing ones (migrated to head first, so a new migration
backfills them; never dropped).

Run: ``.venv/bin/python bench/bench_dashboards.py --keep`` (on 2 busy cores: seeding 1x 30 s,
10x 5 minutes; timing 3 minutes), then ``.venv/bin/python bench/bench_dashboards.py --reuse
NAME1 NAME2``. ``--scale-small 0.05 --scale-large 0.2 --rounds 1`` is a quick trial.
Talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import numpy as np
from sqlalchemy import func, select
from strawberry.relay import GlobalID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.actions.models import AgentAction
from backend.agents.models import Agent
from backend.auth.tokens import issue_user_token
from backend.database import create_engine, create_sessionmaker
from backend.demo.seed import seed_demo, start_of_today
from backend.migrations import upgrade_async
from backend.orgs.models import TeamManager, User
from backend.outcomes.models import Outcome
from bench.graphql_documents import EXECUTIVE_DASHBOARD, REP_DASHBOARD, TEAM_DASHBOARD
from bench.http_load import HttpPool, process_cpu_seconds
from bench.scratch_world import create_database, database_url, drop_database
from bench.servers import app_server

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET_KEY = "bench-dashboards-" + secrets.token_hex(16)
DASHBOARDS = ("repDashboard", "teamDashboard", "executiveDashboard")
TARGET_RATIO = 1.2  # p50 at the large scale over p50 at 1x
TARGET_P50_MS = 50.0  # p50 at 1x


@dataclass
class Dataset:
    """One seeded database and what is sent to it: {dashboard: (body, token)}."""

    label: str
    name: str
    actions: int
    outcomes: int
    last_action: dt.date
    requests: dict[str, tuple[bytes, str]]


@dataclass
class Cell:
    """One dashboard at one scale: latencies (s) and the server's CPU time over them."""

    latencies: list[float] = field(default_factory=list)
    by_round: list[list[float]] = field(default_factory=list)
    server_cpu: float = 0.0

    def p(self, q: float) -> float:
        return float(np.percentile(self.latencies, q))

    def cpu_ms(self) -> float:
        return 1000 * self.server_cpu / len(self.latencies)

    def wait(self) -> str:
        """Mean time per request not spent on the server's CPU (ms), and its share."""
        total = sum(self.latencies)
        waited = total - self.server_cpu
        return f"{1000 * waited / len(self.latencies):.0f} ({100 * waited / total:.0f} %)"


# -- the databases -----------------------------------------------------------------------------


async def vacuum_analyze(name: str) -> None:
    """Planner statistics and visibility maps, as autovacuum would leave them in service."""
    connection = await asyncpg.connect(database_url(name).replace("+asyncpg", ""), timeout=10)
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def seed(name: str, *, scale: float, now: dt.datetime) -> None:
    url = database_url(name)
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        report = await seed_demo(create_sessionmaker(engine), progress=True, now=now, scale=scale)
    finally:
        await engine.dispose()
    print(f"{name} (scale {scale:g}): {report.summary()}", flush=True)
    await vacuum_analyze(name)


async def dataset(label: str, name: str) -> Dataset:
    """Row counts, and each dashboard's body and its reader's token, read from ``name``."""
    engine = create_engine(database_url(name))
    try:
        async with create_sessionmaker(engine)() as session:
            users = {
                u.email: u
                for u in await session.scalars(
                    select(User).where(
                        User.email.in_(
                            ["rep1@demo.example", "manager1@demo.example", "exec@demo.example"]
                        )
                    )
                )
            }
            if len(users) != 3:
                raise SystemExit(
                    f"database {name} does not hold the demo (rep1, manager1 and exec of "
                    f"demo.example); seed it with: python -m backend seed-demo"
                )
            rep, manager = users["rep1@demo.example"], users["manager1@demo.example"]
            agent = await session.scalar(
                select(Agent.id).where(Agent.owner_id == rep.id).order_by(Agent.id).limit(1)
            )
            team = await session.scalar(
                select(TeamManager.team_id)
                .where(TeamManager.user_id == manager.id)
                .order_by(TeamManager.team_id)
                .limit(1)
            )
            actions = await session.scalar(select(func.count()).select_from(AgentAction))
            outcomes = await session.scalar(select(func.count()).select_from(Outcome))
            last = await session.scalar(select(func.max(AgentAction.occurred_at)))
    finally:
        await engine.dispose()

    def body(query: str, **variables: str) -> bytes:
        return json.dumps({"query": query, "variables": variables}).encode()

    def token(user: User) -> str:
        return issue_user_token(
            user_id=user.id,
            organization_id=user.organization_id,
            secret_key=SECRET_KEY,
            ttl=dt.timedelta(hours=3),
        )

    requests = {
        "repDashboard": (body(REP_DASHBOARD, agent=str(GlobalID("Agent", str(agent)))), rep),
        "teamDashboard": (body(TEAM_DASHBOARD, team=str(GlobalID("Team", str(team)))), manager),
        "executiveDashboard": (body(EXECUTIVE_DASHBOARD), users["exec@demo.example"]),
    }
    return Dataset(
        label,
        name,
        actions or 0,
        outcomes or 0,
        last.date() if last else dt.date.min,
        {d: (b, token(u)) for d, (b, u) in requests.items()},
    )


# -- the timing --------------------------------------------------------------------------------


def problem_with(dashboard: str, status: int, answer: bytes) -> str | None:
    """What is wrong with an answer (an error, an empty dashboard), or None."""
    if status != 200:
        return f"HTTP {status}: {answer[:300]!r}"
    data = json.loads(answer)
    if data.get("errors"):
        return f"errors: {data['errors']}"
    board = data["data"][dashboard]
    if board["metrics"]["interactions"] <= 0:
        return f"no interactions in {board['from']}..{board['to']}"
    return None


async def request(pool: HttpPool, dashboard: str, body: bytes, token: str) -> float:
    started = time.perf_counter()
    status, answer = await pool.post("/graphql", body, {"Authorization": f"Bearer {token}"})
    elapsed = time.perf_counter() - started
    if (problem := problem_with(dashboard, status, answer)) is not None:
        raise RuntimeError(f"{dashboard}: {problem}")
    return elapsed


async def measure(
    datasets: Sequence[Dataset],
    servers: Sequence[tuple[HttpPool, int]],
    *,
    rounds: int,
    per_segment: int,
    warm_up: int,
) -> dict[tuple[str, str], Cell]:
    """{(dashboard, label): Cell}, in ``rounds`` rounds of segments ordered small, large,
    large, small for each dashboard."""
    for data, (pool, _) in zip(datasets, servers, strict=True):  # untimed: connections, caches
        for dashboard in DASHBOARDS:
            for _ in range(warm_up):
                await request(pool, dashboard, *data.requests[dashboard])
    cells = {(d, data.label): Cell() for d in DASHBOARDS for data in datasets}
    order = (0, 1, 1, 0)
    for _ in range(rounds):
        for dashboard in DASHBOARDS:
            for data in datasets:
                cells[dashboard, data.label].by_round.append([])
            for index in order:
                data, (pool, pid) = datasets[index], servers[index]
                cell = cells[dashboard, data.label]
                cpu = process_cpu_seconds(pid)
                for _ in range(per_segment):
                    latency = await request(pool, dashboard, *data.requests[dashboard])
                    cell.latencies.append(latency)
                    cell.by_round[-1].append(latency)
                cell.server_cpu += process_cpu_seconds(pid) - cpu
        print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return cells


# -- the report --------------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "met" if met else "not met"


def print_report(datasets: Sequence[Dataset], cells: dict[tuple[str, str], Cell]) -> None:
    small, large = (d.label for d in datasets)
    print("\n| database | scale | agent_actions | outcomes | last action |")
    print("| --- | --- | ---: | ---: | --- |")
    for d in datasets:
        print(f"| {d.name} | {d.label} | {d.actions:,} | {d.outcomes:,} | {d.last_action} |")
    print(
        f"\n| dashboard | p50 ms {small} | p90 ms {small} | p50 ms {large} | p90 ms {large} | "
        f"p50 {large}/{small} (per round) | p90 {large}/{small} | server CPU ms {small} | "
        f"{large} | wait ms {small} | {large} |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    targets = []
    for dashboard in DASHBOARDS:
        a, b = cells[dashboard, small], cells[dashboard, large]
        per_round = [
            float(np.median(y) / np.median(x)) for x, y in zip(a.by_round, b.by_round, strict=True)
        ]
        ratio = b.p(50) / a.p(50)
        print(
            f"| {dashboard} | {1000 * a.p(50):.0f} | {1000 * a.p(90):.0f} | "
            f"{1000 * b.p(50):.0f} | {1000 * b.p(90):.0f} | {ratio:.2f}x "
            f"({min(per_round):.2f}-{max(per_round):.2f}) | {b.p(90) / a.p(90):.2f}x | "
            f"{a.cpu_ms():.0f} | {b.cpu_ms():.0f} | {a.wait()} | {b.wait()} |"
        )
        targets.append(
            f"- {dashboard}: ratio ≤ {TARGET_RATIO}: {verdict(ratio <= TARGET_RATIO)} "
            f"({ratio:.2f}x); p50 at {small} < {TARGET_P50_MS:g} ms: "
            f"{verdict(1000 * a.p(50) < TARGET_P50_MS)} ({1000 * a.p(50):.0f} ms)"
        )
    count = len(cells[DASHBOARDS[0], small].latencies)
    print(f"\n{count} requests per dashboard and scale. Targets:\n")
    print("\n".join(targets))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {load}"
    )


# -- the run -----------------------------------------------------------------------------------


@dataclass
class Plan:
    names: list[str]
    created: bool  # by this run: dropped at the end unless kept
    keep: bool


async def prepare(args: argparse.Namespace, labels: tuple[str, str]) -> Plan:
    if args.reuse:
        for name in args.reuse:
            await upgrade_async(database_url(name))
            await vacuum_analyze(name)
        return Plan(list(args.reuse), created=False, keep=True)
    plan = Plan([], created=True, keep=args.keep)
    try:
        now = start_of_today()
        for label, scale in zip(labels, (args.scale_small, args.scale_large), strict=True):
            plan.names.append(await create_database(f"bench_dashboards_{label.replace('.', '_')}"))
            await seed(plan.names[-1], scale=scale, now=now)
    except BaseException:  # a half-seeded database is of no use: drop it, kept or not
        await finish(Plan(plan.names, created=True, keep=False))
        raise
    return plan


async def finish(plan: Plan) -> None:
    if plan.created and not plan.keep:
        for name in plan.names:
            await drop_database(name)
    elif plan.created:
        print(
            f"\nkept the databases {' '.join(plan.names)}; measure them again with:\n"
            f"  .venv/bin/python bench/bench_dashboards.py --reuse {' '.join(plan.names)}"
        )


async def run(args: argparse.Namespace) -> None:
    labels = (f"{args.scale_small:g}x", f"{args.scale_large:g}x")
    plan = await prepare(args, labels)
    try:
        datasets = [
            await dataset(label, name) for label, name in zip(labels, plan.names, strict=True)
        ]
        yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        if any(d.last_action < yesterday for d in datasets):  # seeded before today
            print(
                "note: the data does not end today, so the default range (the last 30 days) "
                "holds fewer days of it",
                file=sys.stderr,
            )
        prefix = f"bench-dashboards-{secrets.token_hex(4)}:"
        with tempfile.TemporaryDirectory(prefix="bench_dashboards_") as logs, ExitStack() as stack:
            running = [
                stack.enter_context(
                    app_server(
                        database_url(d.name),
                        Path(logs) / f"{d.label}.log",
                        redis_url=REDIS_URL,
                        secret_key=SECRET_KEY,
                        channel_prefix=prefix,
                    )
                )
                for d in datasets
            ]
            servers = [(HttpPool("127.0.0.1", port), pid) for port, pid in running]
            try:
                cells = await measure(
                    datasets,
                    servers,
                    rounds=args.rounds,
                    per_segment=args.per_segment,
                    warm_up=args.warm_up,
                )
            finally:
                for pool, _ in servers:
                    await pool.close()
        print_report(datasets, cells)
    finally:
        await finish(plan)


def positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type: ``kind`` of the text, finite and above 0."""

    def parse(text: str) -> float:
        value = kind(text)
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return value

    return parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale-small",
        type=positive(float),
        default=1.0,
        help="demo scale of the first database (default 1; smaller for a quick trial)",
    )
    parser.add_argument(
        "--scale-large",
        type=positive(float),
        default=10.0,
        help="demo scale of the second database (default 10)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="do not drop the databases; print their names"
    )
    parser.add_argument(
        "--reuse",
        nargs=2,
        metavar=("SMALL", "LARGE"),
        help="measure these seeded databases (1x, then large) instead of seeding; migrates them",
    )
    parser.add_argument("--rounds", type=positive(int), default=3, help="default 3")
    parser.add_argument(
        "--per-segment", type=positive(int), default=4, help="requests per segment (default 4)"
    )
    parser.add_argument(
        "--warm-up", type=positive(int), default=3, help="untimed requests per dashboard (3)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
