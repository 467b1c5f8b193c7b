"""Expired windows are closed by the worker's rules, once, even with several workers."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select, text

from backend.actions.service import ActionInput
from backend.calibration.models import CalibrationStat
from backend.calibration.rollup import add_predictions
from backend.handlers import open_state
from backend.learning import close_expired_windows, submit_action, submit_signals
from backend.outcomes.models import Outcome
from backend.outcomes.windows import close_expired_batch
from backend.signals.service import SignalInput
from tests.backend.conftest import T0

DAY = dt.timedelta(days=1)


async def record(loop, key: str, action_type: str = "email", **extra) -> int:
    data = ActionInput(
        action_type=action_type, confidence=0.3, idempotency_key=key, occurred_at=T0, **extra
    )
    return (await submit_action(loop.state, loop.agent, data, now=T0)).action.id


async def statuses(loop) -> dict[tuple[int, str], tuple[str, float | None]]:
    async with loop.state.sessions() as session:
        rows = await session.scalars(select(Outcome))
        return {(o.action_id, o.outcome_type): (o.status, o.value) for o in rows}


async def test_windows_close_by_their_rules(loop) -> None:
    email = await record(loop, "e")
    meeting = await record(loop, "m", "meeting")
    stage = await record(loop, "s", "stage_progression", deal_external_id="D")
    assert await close_expired_windows(loop.state, now=T0 + 2 * DAY) == 1  # delivery only
    assert (await statuses(loop))[(email, "email_delivery")] == ("resolved", 1.0)
    await close_expired_windows(loop.state, now=T0 + 31 * DAY)
    after = await statuses(loop)
    assert after[(email, "email_reply")] == ("resolved", 0.0)  # no reply in 7 days
    assert after[(stage, "deal_progression")] == ("resolved", 0.0)  # no movement in 30 days
    assert after[(meeting, "meeting_attendance")] == ("needs_label", None)  # event never came
    assert await close_expired_windows(loop.state, now=T0 + 31 * DAY) == 0


async def test_a_decisive_signal_before_expiry_wins(loop) -> None:
    email = await record(loop, "e2", message_external_id="<e2@m>")
    await submit_signals(
        loop.state,
        loop.agent,
        [
            SignalInput(
                kind="email.replied",
                source="esp",
                external_id="r",
                occurred_at=T0 + 3 * DAY,
                message_external_id="<e2@m>",
                payload={"sentiment": "positive"},
            )
        ],
        now=T0 + 3 * DAY,
    )
    await close_expired_windows(loop.state, now=T0 + 8 * DAY)
    assert (await statuses(loop))[(email, "email_reply")] == ("resolved", 1.0)


async def test_window_lengths_are_organisation_config(loop) -> None:
    async with loop.state.sessions() as session:
        await session.execute(
            text("UPDATE organizations SET config = :c WHERE slug = 'north'"),
            {"c": '{"outcome_windows": {"engagement_7d": {"hours": 48}}}'},
        )
        await session.commit()
    email = await record(loop, "short")
    await close_expired_windows(loop.state, now=T0 + 3 * DAY)
    assert (await statuses(loop))[(email, "email_reply")] == ("resolved", 0.0)


async def test_a_crashed_batch_leaves_nothing_half_done(loop) -> None:
    for i in range(5):
        await record(loop, f"c{i}")

    class Crash(Exception):
        pass

    async with loop.state.sessions() as session:
        original = session.execute
        calls = 0

        async def crash_on_rollup(statement, *args, **kwargs):  # the process dies mid-batch
            nonlocal calls
            calls += 1
            if "calibration_stats" in str(statement):
                raise Crash()
            return await original(statement, *args, **kwargs)

        session.execute = crash_on_rollup  # type: ignore[method-assign]
        with pytest.raises(Crash):
            async with session.begin():  # the worker's unit of work: resolve, then count
                resolutions = await close_expired_batch(session, now=T0 + 8 * DAY)
                await add_predictions(session, resolutions.predictions)
    assert calls > 1  # it got as far as updating outcomes before dying
    assert {s for s, _ in (await statuses(loop)).values()} == {"open"}
    assert await close_expired_windows(loop.state, now=T0 + 8 * DAY) == 10
    async with loop.state.sessions() as session:
        assert await session.scalar(select(func.sum(CalibrationStat.count))) == 5


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_concurrent_workers_resolve_each_outcome_once(loop) -> None:
    for i in range(60):
        await record(loop, f"w{i}")
    states = [open_state(loop.state.settings) for _ in range(4)]
    try:
        counts = await asyncio.gather(
            *(close_expired_windows(s, now=T0 + 8 * DAY, batch_size=7) for s in states)
        )
    finally:
        for s in states:
            await s.close()
    assert sum(counts) == 120
    async with loop.state.sessions() as session:
        assert await session.scalar(select(func.sum(CalibrationStat.count))) == 60
