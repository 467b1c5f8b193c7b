"""Labels (audited, corrections adjust the statistics) and concurrent writers losing nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import pytest
from sqlalchemy import func, insert, select

from backend.actions.models import AgentAction
from backend.actions.service import ActionInput
from backend.calibration.models import CalibrationStat
from backend.errors import NotFoundError
from backend.learning import submit_action, submit_label, submit_signals
from backend.outcomes.models import Outcome, OutcomeLabel
from backend.signals.service import SignalInput
from backend.unit_of_work import transaction
from tests.backend.learning.conftest import T0

NOW = T0 + dt.timedelta(hours=3)


async def needs_label(loop) -> int:
    recorded = await submit_action(
        loop.state,
        loop.agent,
        ActionInput(
            action_type="email",
            confidence=0.7,
            idempotency_key="l",
            occurred_at=T0,
            message_external_id="<l@m>",
        ),
        now=T0,
    )
    await submit_signals(
        loop.state,
        loop.agent,
        [
            SignalInput(
                kind="email.replied",
                source="esp",
                external_id="r",
                occurred_at=T0 + dt.timedelta(hours=1),
                message_external_id="<l@m>",
            )
        ],
        now=NOW,
    )
    return next(o.id for o in recorded.outcomes if o.outcome_type == "email_reply")


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


async def test_label_resolves_then_a_correction_replaces_the_contribution(loop) -> None:
    outcome_id = await needs_label(loop)
    first = await submit_label(
        loop.state,
        loop.rep,
        outcome_id=outcome_id,
        level="positive",
        note="they asked for a demo",
        now=NOW,
    )
    assert not first.correction
    assert await rollup(loop) == pytest.approx((1, 1.0, 0.09))
    second = await submit_label(
        loop.state,
        loop.manager,
        outcome_id=outcome_id,
        level="negative",
        note="it was an out-of-office",
        now=NOW,
    )
    assert second.correction
    assert await rollup(loop) == pytest.approx((1, 0.0, 0.49))
    async with loop.state.sessions() as session:
        outcome = await session.get_one(Outcome, outcome_id)
        labels = list(await session.scalars(select(OutcomeLabel).order_by(OutcomeLabel.id)))
    assert (outcome.status, outcome.detection, outcome.value) == ("resolved", "human", 0.0)
    assert outcome.resolved_by_id == loop.world.users["manager_a"].id
    assert [(x.previous_status, x.previous_value, x.value) for x in labels] == [
        ("needs_label", None, 1.0),
        ("resolved", 1.0, 0.0),
    ]
    assert labels[0].labeled_by_id == loop.world.users["rep_a1"].id


async def test_labels_are_validated_and_scoped(loop) -> None:
    outcome_id = await needs_label(loop)
    with pytest.raises(Exception, match="not on the binary scale"):
        await submit_label(loop.state, loop.rep, outcome_id=outcome_id, level="great", now=NOW)
    async with loop.state.sessions() as session:
        from backend.auth.service import viewer_for_user

        other_rep = await viewer_for_user(session, loop.world.users["rep_a2"])
    with pytest.raises(NotFoundError):
        await submit_label(loop.state, other_rep, outcome_id=outcome_id, level="positive", now=NOW)
    assert await rollup(loop) == (0, 0.0, 0.0)


WRITERS, PER_WRITER, BATCH = 20, 500, 50


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
