"""Benchmark of the learning loop's ingest path on PostgreSQL: resolved outcomes per second.

In a scratch database (created, migrated, dropped at the end) with one organisation and one
agent, N email actions are bulk-inserted with their open ``email_reply`` (calibrating) and
``email_delivery`` outcomes. Each ``email.replied`` signal (sentiment positive or negative,
referring to its action by id) resolves both outcomes and adds the reply to the calibration
rollup. Measured, for batches of 1000, 100 and 1 signals, each path on its own actions:

- submit_signals: ``backend.learning.submit_signals``, the whole loop (one unit of work, then
  after commit its events: the ``OutcomeResolved`` handler re-assesses the touched scope);
- record_signals: ``backend.signals.service.record_signals`` and the rollup increment
  (``add_predictions``) in their own transaction, without the events' handlers;
- raw asyncpg: the same writes with hand-written SQL in one transaction per batch: insert the
  signal rows (already matched), update the same outcome rows, and the same upserts with
  increments of the rollups (calibration per agent and per team; the outcomes' daily sums);
  set-based (``unnest``) per batch, so a batch of 1 is one transaction per row. It skips what
  the service must also do: validate, lock and read the outcomes, apply the rules, re-assess.

The paths run interleaved batch by batch (so load on this shared machine hits all of them
alike), after one untimed warm-up batch each; the signals are built before the clock starts.
"replies/s" counts signals, each resolving one calibrating outcome; "outcomes/s" counts every
outcome row resolved (reply and delivery: the service's ``resolved``); "of which GC" is the
time Python's garbage collector ran during the path's batches.

Run: ``.venv/bin/python bench/bench_ingest.py [--outcomes N]`` (N replies per path in batches
of 1000, default 20000; N/10 in batches of 100, N/50 one at a time). About a minute; talks
only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import os
import platform
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import asyncpg
import numpy as np
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics_engine.calibration import STAT_FIELDS, bin_index
from analytics_engine.calibration_batch import LOG_EPS
from backend.actions.models import AgentAction
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_api_client
from backend.calibration.models import CALIBRATION_BINS
from backend.calibration.rollup import add_predictions
from backend.handlers import open_state
from backend.learning import submit_signals
from backend.migrations import upgrade
from backend.outcomes.models import Outcome
from backend.settings import load_settings
from backend.signals.service import SignalInput, record_signals
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.factories import build_world

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
NOW = dt.datetime(2026, 10, 20, 12, 0, tzinfo=dt.UTC)
SOURCE = "esp"
BATCH_SIZES = (1000, 100, 1)
PATHS = ("submit_signals", "record_signals", "raw asyncpg")


class Reply(NamedTuple):
    """One email action with its open outcomes, and the reply signal that resolves them (a
    tuple of plain values: the harness keeps tens of thousands without burdening the GC)."""

    action_id: int
    reply_outcome_id: int
    delivery_outcome_id: int
    p: float  # the action's stated confidence
    day: dt.date  # the action's day (the rollup row's day)
    y: float  # 1.0 for a positive reply, 0.0 for a negative one
    occurred_at: dt.datetime  # when the reply arrived

    @property
    def external_id(self) -> str:
        return f"reply-{self.action_id}"

    @property
    def sentiment(self) -> str:
        return "positive" if self.y else "negative"

    def signal(self) -> SignalInput:
        return SignalInput(
            kind="email.replied",
            source=SOURCE,
            external_id=self.external_id,
            occurred_at=self.occurred_at,
            payload={"sentiment": self.sentiment},
            action_id=self.action_id,
        )


async def admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def seed_replies(
    state: AppState, *, organization_id: int, agent_id: int, count: int
) -> list[Reply]:
    """Bulk-insert ``count`` email actions spread over the last 6 days, each with its open
    reply (7 d) and delivery (24 h) outcomes; the reply comes an hour after the action."""
    rng = np.random.default_rng(7)
    p = np.round(rng.uniform(0.02, 0.98, count), 4)
    y = (rng.random(count) < p).astype(float)
    minutes = rng.integers(120, 6 * 24 * 60, count)
    occurred = [NOW - dt.timedelta(minutes=int(m)) for m in minutes]
    async with transaction(state.sessions) as session:
        inserted = await session.execute(
            insert(AgentAction).returning(AgentAction.idempotency_key, AgentAction.id),
            [
                {
                    "organization_id": organization_id,
                    "agent_id": agent_id,
                    "action_type": "email",
                    "confidence": float(p[i]),
                    "idempotency_key": f"bench-{i}",
                    "occurred_at": occurred[i],
                    "details": {},
                }
                for i in range(count)
            ],
        )
        by_key = {key: id_ for key, id_ in inserted}
        ids = [by_key[f"bench-{i}"] for i in range(count)]
        outcome_ids: dict[tuple[int, str], int] = {}
        for outcome_type, window, length in (
            ("email_reply", "engagement_7d", dt.timedelta(days=7)),
            ("email_delivery", "immediate_24h", dt.timedelta(hours=24)),
        ):
            rows = await session.execute(
                insert(Outcome).returning(Outcome.action_id, Outcome.id),
                [
                    {
                        "organization_id": organization_id,
                        "agent_id": agent_id,
                        "action_id": a,
                        "action_type": "email",
                        "outcome_type": outcome_type,
                        "window": window,
                        "scale": "binary",
                        "status": "open",
                        "opened_at": occurred[i],
                        "due_at": occurred[i] + length,
                        "evidence": {},
                    }
                    for i, a in enumerate(ids)
                ],
            )
            outcome_ids.update({(a, outcome_type): o for a, o in rows})
    async with transaction(state.sessions) as session:  # fresh planner statistics
        await session.execute(text("ANALYZE"))
    return [
        Reply(
            a,
            outcome_ids[(a, "email_reply")],
            outcome_ids[(a, "email_delivery")],
            float(p[i]),
            occurred[i].date(),
            float(y[i]),
            occurred[i] + dt.timedelta(hours=1),
        )
        for i, a in enumerate(ids)
    ]


# -- the raw path: the same writes, hand-written ----------------------------------------------

INSERT_SIGNALS = """
INSERT INTO signals (organization_id, kind, source, external_id, payload, agent_id, matched,
                     occurred_at, received_at)
SELECT $1, 'email.replied', $2, e, p::json, $3, true, o, $4
FROM unnest($5::text[], $6::text[], $7::timestamptz[]) AS v(e, p, o)
ON CONFLICT (organization_id, source, external_id) DO NOTHING
RETURNING id, external_id"""

UPDATE_OUTCOMES = """
UPDATE outcomes AS t
SET status = 'resolved', level = v.level, value = v.value, detection = 'automatic',
    resolved_at = v.at, signal_id = v.signal_id, resolved_by_id = NULL, label_reason = NULL
FROM unnest($1::bigint[], $2::int[], $3::float8[], $4::timestamptz[], $5::bigint[])
     AS v(id, level, value, at, signal_id)
WHERE t.id = v.id"""

_STATS = ", ".join(STAT_FIELDS)
UPSERT_ROLLUP = f"""
INSERT INTO calibration_stats (organization_id, agent_id, action_type, day, bin, {_STATS})
SELECT $1, $2, 'email', v.*
FROM unnest($3::date[], $4::smallint[], $5::int[], $6::float8[], $7::float8[], $8::float8[],
            $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[],
            $14::float8[]) AS v
ON CONFLICT (organization_id, agent_id, action_type, day, bin) DO UPDATE SET
{", ".join(f"{n} = calibration_stats.{n} + excluded.{n}" for n in STAT_FIELDS)}"""


# The same sums to the agent's team (the calibration rollup per team).
UPSERT_TEAM_ROLLUP = UPSERT_ROLLUP.replace("calibration_stats", "calibration_team_stats").replace(
    "organization_id, agent_id, action_type", "organization_id, team_id, action_type"
)

UPSERT_OUTCOME_STATS = """
INSERT INTO outcome_stats (organization_id, agent_id, day, action_type, outcome_type, resolved,
                           successes, pending)
SELECT $1, $2, v.day, 'email', v.outcome_type, v.resolved, v.successes, -v.resolved
FROM unnest($3::date[], $4::text[], $5::int[], $6::float8[]) AS v(day, outcome_type, resolved,
                                                                 successes)
ON CONFLICT (organization_id, agent_id, day, action_type, outcome_type) DO UPDATE SET
resolved = outcome_stats.resolved + excluded.resolved,
successes = outcome_stats.successes + excluded.successes,
pending = outcome_stats.pending + excluded.pending"""


def outcome_stats_rows(replies: list[Reply]) -> list[list[object]]:
    """Per (day, outcome type): outcomes resolved and the sum of their values, sorted by key:
    one array per column of UPSERT_OUTCOME_STATS (each leaves the pending count)."""
    sums: dict[tuple[dt.date, str], list[float]] = {}
    for r in replies:
        for outcome_type, value in (("email_delivery", 1.0), ("email_reply", r.y)):
            cell = sums.setdefault((r.day, outcome_type), [0, 0.0])
            cell[0] += 1
            cell[1] += value
    keys = sorted(sums)
    return [
        [k[0] for k in keys],
        [k[1] for k in keys],
        [int(sums[k][0]) for k in keys],
        [sums[k][1] for k in keys],
    ]


def rollup_rows(replies: list[Reply]) -> list[list[object]]:
    """Per (day, bin) sums of the replies' contributions (as in ``analytics_engine``), sorted
    by key: one array per column of UPSERT_ROLLUP."""
    p = np.array([r.p for r in replies])
    y = np.array([r.y for r in replies])
    days = np.array([r.day.toordinal() for r in replies])
    bins = np.asarray(bin_index(p, n_bins=CALIBRATION_BINS))
    keys, group = np.unique(days * CALIBRATION_BINS + bins, return_inverse=True)
    pc = np.clip(p, LOG_EPS, 1 - LOG_EPS)
    d = 1 - 2 * p
    log_loss = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    moments = (
        np.ones_like(p),
        p,
        p * p,
        y,
        y * y,
        p * y,
        (p - y) ** 2,
        log_loss,
        (y - p) * d,
        d * d * p * (1 - p),
    )
    sums = [np.bincount(group, m, len(keys)) for m in moments]
    return [
        [dt.date.fromordinal(int(k)) for k in keys // CALIBRATION_BINS],
        (keys % CALIBRATION_BINS).tolist(),
        np.rint(sums[0]).astype(int).tolist(),
        *(s.tolist() for s in sums[1:]),
    ]


async def raw_batch(
    connection: asyncpg.Connection,
    replies: list[Reply],
    *,
    organization_id: int,
    agent_id: int,
    team_id: int,
) -> int:
    """One transaction: the batch's signal rows, outcome updates and the upserts of the
    rollups (calibration per agent and per team, and the outcomes' daily sums the dashboards
    read)."""
    async with connection.transaction():
        stored = await connection.fetch(
            INSERT_SIGNALS,
            organization_id,
            SOURCE,
            agent_id,
            NOW,
            [r.external_id for r in replies],
            [f'{{"sentiment": "{r.sentiment}"}}' for r in replies],
            [r.occurred_at for r in replies],
        )
        signal_ids = {row["external_id"]: row["id"] for row in stored}
        fresh = [r for r in replies if r.external_id in signal_ids]
        ids, levels, values, at, sids = [], [], [], [], []
        for r in fresh:
            for outcome_id, y in ((r.reply_outcome_id, r.y), (r.delivery_outcome_id, 1.0)):
                ids.append(outcome_id)
                levels.append(int(y))
                values.append(y)
                at.append(r.occurred_at)
                sids.append(signal_ids[r.external_id])
        await connection.execute(UPDATE_OUTCOMES, ids, levels, values, at, sids)
        if fresh:
            sums = rollup_rows(fresh)
            await connection.execute(UPSERT_ROLLUP, organization_id, agent_id, *sums)
            await connection.execute(UPSERT_TEAM_ROLLUP, organization_id, team_id, *sums)
            await connection.execute(
                UPSERT_OUTCOME_STATS, organization_id, agent_id, *outcome_stats_rows(fresh)
            )
    return 2 * len(fresh)


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Timing:
    replies: int = 0
    outcomes: int = 0
    seconds: float = 0.0
    gc_seconds: float = 0.0  # of which in Python's garbage collector


class GcClock:
    """Time spent in the garbage collector (``gc.callbacks``), to show its share."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


async def run(outcomes: int) -> None:
    counts = {1000: outcomes, 100: max(outcomes // 10, 100), 1: max(outcomes // 50, 20)}
    needed = sum(len(PATHS) * (count + size) for size, count in counts.items())  # + warm-ups
    name = f"bench_ingest_{secrets.token_hex(4)}"
    await admin(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    state: AppState | None = None
    raw: asyncpg.Connection | None = None
    try:
        await asyncio.to_thread(upgrade, url)
        state = open_state(load_settings(database_url=url))
        async with transaction(state.sessions) as session:
            world = await build_world(session, actions_per_agent=0)
            org, agent = world.orgs["north"].id, world.agents["rep_a1"].id
            team = world.agents["rep_a1"].team_id
            key = await create_api_key(
                session,
                viewer=Viewer.system(org),
                kind=ApiClientKind.AGENT,
                name="bench",
                agent_id=agent,
            )
            viewer = await viewer_for_api_client(session, key.client)
        raw = await asyncpg.connect(url.replace("+asyncpg", ""))
        started = time.perf_counter()
        replies = await seed_replies(state, organization_id=org, agent_id=agent, count=needed)
        print(
            f"seeded {needed} actions, {2 * needed} open outcomes "
            f"in {time.perf_counter() - started:.1f} s"
        )
        # As the server does once started (``backend.app``'s lifespan): what is alive now
        # (modules, engine, and here the harness's replies) leaves the collector's generations,
        # so the full collections that run during the batches do not walk it again.
        gc.collect()
        gc.freeze()

        async def through_submit(batch: list[Reply], signals: list[SignalInput]) -> int:
            result = await submit_signals(state, viewer, signals, now=NOW)
            return result.resolved

        async def through_record(batch: list[Reply], signals: list[SignalInput]) -> int:
            async with transaction(state.sessions, hold=[]) as session:  # no handlers
                result = await record_signals(session, viewer, signals, now=NOW)
                await add_predictions(session, result.predictions)
            return result.resolved

        async def through_raw(batch: list[Reply], signals: list[SignalInput]) -> int:
            return await raw_batch(raw, batch, organization_id=org, agent_id=agent, team_id=team)

        paths: dict[str, Callable[[list[Reply], list[SignalInput]], Awaitable[int]]] = {
            "submit_signals": through_submit,
            "record_signals": through_record,
            "raw asyncpg": through_raw,
        }
        timings: dict[tuple[str, int], Timing] = {}
        gc_clock = GcClock()
        gc.callbacks.append(gc_clock)
        pending = iter(replies)
        for size, count in counts.items():
            for round_ in range(-1, count // size):  # round -1: untimed warm-up
                for offset in range(len(PATHS)):  # rotate the order from round to round
                    path = PATHS[(round_ + offset) % len(PATHS)]
                    batch = [next(pending) for _ in range(size)]
                    signals = [r.signal() for r in batch]  # the input, built before the clock
                    started, gc_before = time.perf_counter(), gc_clock.total
                    resolved = await paths[path](batch, signals)
                    elapsed = time.perf_counter() - started
                    if resolved != 2 * size:
                        raise RuntimeError(f"{path} resolved {resolved} of {2 * size} outcomes")
                    if round_ >= 0:
                        timing = timings.setdefault((path, size), Timing())
                        timing.replies += size
                        timing.outcomes += resolved
                        timing.seconds += elapsed
                        timing.gc_seconds += gc_clock.total - gc_before
        gc.callbacks.remove(gc_clock)
        await check_rollup(raw, organization_id=org, replies=replies)
        report(timings)
    finally:
        if raw is not None:
            await raw.close()
        if state is not None:
            await state.close()
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def check_rollup(
    connection: asyncpg.Connection, *, organization_id: int, replies: list[Reply]
) -> None:
    """Every path wrote the same kind of rollup: its counts and Σp equal the replies'."""
    count, sum_p = await connection.fetchrow(
        "SELECT sum(count), sum(sum_p) FROM calibration_stats WHERE organization_id = $1",
        organization_id,
    )
    expected = sum(r.p for r in replies)
    if count != len(replies) or abs(sum_p - expected) > 1e-6 * len(replies):
        raise RuntimeError(
            f"rollup holds {count} outcomes, Σp {sum_p}; expected {len(replies)}, {expected}"
        )


def report(timings: dict[tuple[str, int], Timing]) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load}\n"
    )
    print("| path | batch | replies | seconds | of which GC | replies/s | outcomes/s | vs raw |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in BATCH_SIZES:
        raw = timings[("raw asyncpg", size)]
        for path in PATHS:
            t = timings[(path, size)]
            ratio = (t.replies / t.seconds) / (raw.replies / raw.seconds)
            print(
                f"| {path} | {size} | {t.replies} | {t.seconds:.2f} | {t.gc_seconds:.2f} | "
                f"{t.replies / t.seconds:,.0f} | {t.outcomes / t.seconds:,.0f} | "
                f"{ratio:.2f} |"
            )
    record = timings[("record_signals", 1000)]
    raw = timings[("raw asyncpg", 1000)]
    rate = record.outcomes / record.seconds
    ratio = rate / (raw.outcomes / raw.seconds)
    print(
        f"\ntarget, record_signals in batches of 1000: >= 10,000 resolved outcomes/s: "
        f"{rate:,.0f} ({'met' if rate >= 10_000 else 'NOT met'}); >= 0.5 x raw: "
        f"{ratio:.2f} ({'met' if ratio >= 0.5 else 'NOT met'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--outcomes",
        type=int,
        default=20_000,
        help="replies per path in batches of 1000 (default 20000)",
    )
    args = parser.parse_args()
    if args.outcomes < 1000:
        parser.error("--outcomes must be at least 1000")
    asyncio.run(run(args.outcomes))


if __name__ == "__main__":
    main()
