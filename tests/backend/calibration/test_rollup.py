"""The calibration rollup: concurrent writers (signals through their units of work) lose no
increment, checked against the sums computed directly."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import pytest
from sqlalchemy import func, insert, select

from backend.actions.models import AgentAction
from backend.calibration.models import CalibrationStat
from backend.learning import submit_signals
from backend.outcomes.models import Outcome
from backend.signals.service import SignalInput
from backend.unit_of_work import transaction
from tests.backend.conftest import T0

NOW = T0 + dt.timedelta(hours=3)
WRITERS, PER_WRITER, BATCH = 20, 500, 50


async def rollup(loop) -> tuple[int, float, float]:
    async with loop.state.sessions() as session:
        row = (
            await session.execute(
                select(
                    func.sum(CalibrationStat.count),
                    func.sum(CalibrationStat.sum_y),
                    func.sum(CalibrationStat.sum_sq_err),
                )
            )
        ).one()
        return int(row[0] or 0), float(row[1] or 0), float(row[2] or 0)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_concurrent_writers_lose_no_increment(loop) -> None:
    org, agent = loop.world.orgs["north"].id, loop.world.agents["rep_a1"].id
    rng = random.Random(7)
    total = WRITERS * PER_WRITER
    confidences = [round(rng.random(), 3) for _ in range(total)]
    async with transaction(loop.state.sessions) as session:
        ids = list(
            (
                await session.execute(
                    insert(AgentAction).returning(AgentAction.id),
                    [
                        {
                            "organization_id": org,
                            "agent_id": agent,
                            "action_type": "email",
                            "confidence": p,
                            "idempotency_key": f"k{i}",
                            "occurred_at": T0,
                            "details": {},
                        }
                        for i, p in enumerate(confidences)
                    ],
                )
            ).scalars()
        )
        await session.execute(
            insert(Outcome),
            [
                {
                    "organization_id": org,
                    "agent_id": agent,
                    "action_id": action_id,
                    "action_type": "email",
                    "outcome_type": "email_reply",
                    "window": "engagement_7d",
                    "scale": "binary",
                    "status": "open",
                    "due_at": T0 + dt.timedelta(days=7),
                    "evidence": {},
                }
                for action_id in ids
            ],
        )
    replies = [rng.random() < p for p in confidences]

    async def writer(w: int) -> None:
        mine = range(w * PER_WRITER, (w + 1) * PER_WRITER)
        for start in range(mine.start, mine.stop, BATCH):
            batch = [
                SignalInput(
                    kind="email.replied",
                    source="esp",
                    external_id=f"s{i}",
                    action_id=ids[i],
                    occurred_at=T0 + dt.timedelta(hours=1),
                    payload={"sentiment": "positive" if replies[i] else "negative"},
                )
                for i in range(start, start + BATCH)
            ]
            await submit_signals(loop.state, loop.admin, batch, now=NOW)

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    count, sum_y, sum_sq_err = await rollup(loop)
    expected_brier_sum = sum((p - y) ** 2 for p, y in zip(confidences, replies, strict=True))
    assert count == total
    assert sum_y == sum(replies)
    assert sum_sq_err == pytest.approx(expected_brier_sum, rel=1e-9)
