"""Labels: audited, validated and scoped; a correction replaces its contribution to the
calibration statistics."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from backend.actions.service import ActionInput
from backend.calibration.models import CalibrationStat
from backend.errors import NotFoundError
from backend.learning import submit_action, submit_label, submit_signals
from backend.outcomes.models import Outcome, OutcomeLabel
from backend.signals.service import SignalInput
from tests.backend.conftest import T0

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
