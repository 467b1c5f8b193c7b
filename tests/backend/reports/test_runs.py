"""Report runs by the clock: each (subscription, period) once, with two workers at once, across
daylight-saving changes, after a restart mid-run and after downtime; the recipient's scope at
the time of sending."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from backend.handlers import open_state
from backend.orgs.models import TeamManager
from backend.outbox import LEASE
from backend.reports.models import ReportDelivery, ReportKind, ReportRun
from backend.reports.runs import claim_run, due_runs, run_due_reports
from backend.unit_of_work import transaction
from tests.backend.conftest import Loop
from tests.backend.reports.conftest import quick_render, subscribe
from tests.factories import NOW

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


async def runs(loop: Loop) -> list[ReportRun]:
    async with loop.state.sessions() as session:
        return list(
            await session.scalars(
                select(ReportRun).order_by(ReportRun.subscription_id, ReportRun.period_start)
            )
        )


async def deliveries(loop: Loop) -> list[ReportDelivery]:
    async with loop.state.sessions() as session:
        return list(await session.scalars(select(ReportDelivery).order_by(ReportDelivery.id)))


def timeline(found: list[ReportRun], subscription_id: int) -> list[tuple[str, str, str]]:
    """(period start, due at, claimed at) of one subscription's runs, in UTC."""
    return [
        (str(r.period_start.date()), r.due_at.isoformat()[:16], r.created_at.isoformat()[:16])
        for r in found
        if r.subscription_id == subscription_id and r.due_at is not None
    ]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_workers_by_the_clock_across_dst_send_each_period_once(
    loop: Loop, database_url: str
) -> None:
    start = at("2027-03-12T00:00")
    berlin = await subscribe(
        loop,
        "manager_a",
        ReportKind.MANAGER_DAILY,
        created_at=start,
        team_id=None,
        timezone="Europe/Berlin",
        send_hour=2,
    )
    new_york = await subscribe(
        loop,
        "exec_n",
        ReportKind.EXECUTIVE_WEEKLY,
        created_at=start,
        timezone="America/New_York",
        send_hour=2,
        weekday=6,
    )
    other = open_state(loop.state.settings)  # a second worker: its own engine and sessions
    try:

        async def sweep(first: dt.datetime, last: dt.datetime) -> None:
            now = first
            while now <= last:
                await asyncio.gather(
                    run_due_reports(loop.state, now=now, render=quick_render),
                    run_due_reports(other, now=now, render=quick_render),
                )
                now += dt.timedelta(minutes=30)

        await sweep(start, at("2027-03-30T00:00"))
        found = await runs(loop)
        # Berlin: 02:00 local every day; on 28 March it does not exist, due 03:00 CEST.
        berlin_runs = timeline(found, berlin.id)
        assert berlin_runs[0] == ("2027-03-11", "2027-03-12T01:00", "2027-03-12T01:00")
        assert ("2027-03-27", "2027-03-28T01:00", "2027-03-28T01:00") in berlin_runs
        assert ("2027-03-28", "2027-03-29T00:00", "2027-03-29T00:00") in berlin_runs
        assert [r[0] for r in berlin_runs] == [
            str(dt.date(2027, 3, 11) + dt.timedelta(days=i)) for i in range(19)
        ]
        # New York: Sundays 02:00; on 14 March the clocks skip it: due 03:00 EDT (07:00 UTC).
        weekly = timeline(found, new_york.id)
        assert weekly == [
            ("2027-03-01", "2027-03-14T07:00", "2027-03-14T07:00"),
            ("2027-03-08", "2027-03-21T06:00", "2027-03-21T06:00"),
            ("2027-03-15", "2027-03-28T06:00", "2027-03-28T06:00"),
        ]
        # Down from 30 March to 29 October: only the latest period goes, once, late.
        await sweep(at("2027-10-29T12:00"), at("2027-11-02T00:00"))
        found = await runs(loop)
        autumn = [r for r in timeline(found, berlin.id) if r[0] >= "2027-04"]
        assert autumn == [
            ("2027-10-28", "2027-10-29T00:00", "2027-10-29T12:00"),  # late, once
            ("2027-10-29", "2027-10-30T00:00", "2027-10-30T00:00"),
            # 31 October: 02:00 happens twice; due at the first (CEST, 00:00 UTC), once.
            ("2027-10-30", "2027-10-31T00:00", "2027-10-31T00:00"),
            ("2027-10-31", "2027-11-01T01:00", "2027-11-01T01:00"),
        ]
        # New York's weekly: the week due on Sunday 24 October (late, once), then 31 October's.
        assert [r[:2] for r in timeline(found, new_york.id) if r[0] >= "2027-04"] == [
            ("2027-10-11", "2027-10-24T06:00"),
            ("2027-10-18", "2027-10-31T06:00"),
        ]
        # Exactly one run per (subscription, period), each with exactly one e-mail.
        keys = [(r.subscription_id, r.period_start) for r in found]
        assert len(keys) == len(set(keys)) == 19 + 3 + 4 + 2
        queued = await deliveries(loop)
        assert sorted(d.run_id for d in queued) == sorted(r.id for r in found)
        assert {r.status for r in found} == {"queued"}
    finally:
        await other.close()


async def test_a_run_left_running_by_a_crashed_worker_is_taken_over_once(loop: Loop) -> None:
    subscription = await subscribe(
        loop, "manager_a", ReportKind.MANAGER_DAILY, created_at=NOW - dt.timedelta(days=3)
    )
    async with loop.state.sessions() as session:
        (due,) = await due_runs(session, now=NOW)
    async with transaction(loop.state.sessions) as session:
        run_id = await claim_run(session, due, now=NOW)  # the worker dies right after this
    assert run_id is not None
    # While its lease runs nobody touches it, and the period is not claimed again.
    assert await run_due_reports(loop.state, now=NOW + LEASE / 2, render=quick_render) == 0
    (run,) = await runs(loop)
    assert (run.status, run.attempts) == ("running", 1)
    # The lease over: one worker takes it over and finishes it.
    later = NOW + LEASE + dt.timedelta(seconds=1)
    taken = await asyncio.gather(
        run_due_reports(loop.state, now=later, render=quick_render),
        run_due_reports(loop.state, now=later, render=quick_render),
    )
    assert sum(taken) == 1
    (run,) = await runs(loop)
    assert (run.id, run.subscription_id, run.status, run.attempts) == (
        run_id,
        subscription.id,
        "queued",
        2,
    )
    assert len(await deliveries(loop)) == 1
    assert await run_due_reports(loop.state, now=later + LEASE * 2, render=quick_render) == 0


async def test_a_failing_render_is_retried_then_failed(loop: Loop) -> None:
    await subscribe(
        loop, "manager_a", ReportKind.MANAGER_DAILY, created_at=NOW - dt.timedelta(days=3)
    )

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("charts are down")

    now = NOW
    for attempt in (1, 2, 3):
        await run_due_reports(loop.state, now=now, render=broken)
        (run,) = await runs(loop)
        assert (run.attempts, run.error) == (attempt, "RuntimeError: charts are down")
        now += dt.timedelta(hours=1)
    assert run.status == "failed" and run.finished_at is not None
    assert await deliveries(loop) == []


async def test_the_recipient_s_scope_when_sending_decides(loop: Loop) -> None:
    world: Any = loop.world
    alpha, beta = world.teams["alpha"].id, world.teams["beta"].id
    pinned = await subscribe(
        loop,
        "manager_a",
        ReportKind.MANAGER_DAILY,
        created_at=NOW - dt.timedelta(days=3),
        team_id=alpha,
    )
    own = await subscribe(
        loop,
        "manager_a",
        ReportKind.MANAGER_DAILY,
        created_at=NOW - dt.timedelta(days=3),
        team_id=None,
    )
    digest = await subscribe(
        loop,
        "rep_a1",
        ReportKind.REP_WEEKLY,
        created_at=NOW - dt.timedelta(days=30),
        agent_id=world.agents["rep_a1"].id,
    )
    # manager_a moves from alpha to beta; rep_a1 leaves the company.
    async with transaction(loop.state.sessions) as session:
        await session.execute(delete(TeamManager).where(TeamManager.team_id == alpha))
        session.add(
            TeamManager(
                organization_id=world.orgs["north"].id,
                team_id=beta,
                user_id=world.users["manager_a"].id,
            )
        )
        await session.execute(
            update(type(world.users["rep_a1"]))
            .where(type(world.users["rep_a1"]).id == world.users["rep_a1"].id)
            .values(active=False)
        )
    assert await run_due_reports(loop.state, now=NOW, render=quick_render) == 3
    by_subscription = {r.subscription_id: r for r in await runs(loop)}
    assert (by_subscription[pinned.id].status, by_subscription[pinned.id].error) == (
        "skipped",
        f"the recipient no longer manages team {alpha}",
    )
    assert by_subscription[own.id].status == "queued"
    assert by_subscription[own.id].summary["team_id"] == beta  # the new team
    assert (by_subscription[digest.id].status, by_subscription[digest.id].error) == (
        "skipped",
        "the recipient is inactive or no longer exists",
    )
    assert [d.run_id for d in await deliveries(loop)] == [by_subscription[own.id].id]
