"""The feedback domain: a rating raises `FeedbackGiven` once per change (never for a redelivery
or a rejected rating); a channel withdraws only the rating it gave; ratings that answered a
prompt stay `prompted`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select

from backend.actions.service import ActionInput
from backend.errors import DomainError
from backend.feedback.events import FeedbackGiven, FeedbackWithdrawn
from backend.feedback.models import Feedback, FeedbackChannel
from backend.feedback.service import (
    FeedbackInput,
    mark_prompted,
    submit_feedback,
    withdraw_feedback,
)
from backend.learning import submit_action
from backend.unit_of_work import transaction
from tests.backend.conftest import T0, Loop


class Heard:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def __call__(self, events: Sequence[Any]) -> None:
        self.events.extend(events)


async def _action(loop: Loop, key: str) -> int:
    recorded = await submit_action(
        loop.state,
        loop.agent,
        ActionInput(action_type="escalation", confidence=0.5, idempotency_key=key, occurred_at=T0),
        now=T0,
    )
    return recorded.action.id


async def _rate(loop: Loop, action_id: int, rating: int, **extra: Any) -> Feedback:
    async with transaction(loop.state.sessions) as session:
        data = FeedbackInput(channel="dashboard", action_id=action_id, rating=rating, **extra)
        return (await submit_feedback(session, loop.rep, data, now=T0)).feedback


async def test_each_change_of_a_rating_is_told_once(loop: Loop) -> None:
    heard = Heard()
    loop.state.bus.subscribe(FeedbackGiven, heard)
    action_id = await _action(loop, "e-1")
    first = await _rate(loop, action_id, 4, external_id="x-1")
    again = await _rate(loop, action_id, 4, external_id="x-1")  # a redelivery: nothing new
    changed = await _rate(loop, action_id, 2)
    assert first.id == again.id == changed.id
    assert [(e.feedback_id, e.action_id, e.author_id) for e in heard.events] == [
        (first.id, action_id, loop.rep.user_id),
        (first.id, action_id, loop.rep.user_id),
    ]
    with pytest.raises(DomainError):
        await _rate(loop, action_id, 9)  # rejected: rolled back, nothing told
    assert len(heard.events) == 2


async def test_a_channel_withdraws_only_the_rating_it_gave(loop: Loop) -> None:
    heard = Heard()
    loop.state.bus.subscribe(FeedbackWithdrawn, heard)
    action_id = await _action(loop, "e-2")
    await _rate(loop, action_id, 1, external_id="reaction:1")

    async def withdraw(rating: int) -> int:
        async with transaction(loop.state.sessions) as session:
            return await withdraw_feedback(
                session,
                organization_id=loop.rep.organization_id,
                author_id=loop.rep.user_id or 0,
                target=Feedback.action_id == action_id,
                channel=FeedbackChannel.DASHBOARD,
                external_id_prefix="reaction:",
                rating=rating,
            )

    assert await withdraw(5) == 0  # another rating than the one given: it stays
    assert heard.events == []
    assert await withdraw(1) == 1
    assert heard.events == [
        FeedbackWithdrawn(loop.rep.organization_id, loop.rep.user_id or 0, action_id, None)
    ]
    async with loop.state.sessions() as session:
        assert await session.scalar(select(Feedback.id)) is None


async def test_a_rating_that_answered_a_prompt_stays_prompted(loop: Loop) -> None:
    action_id = await _action(loop, "e-3")
    rating = await _rate(loop, action_id, 3)
    assert rating.prompted is False
    async with transaction(loop.state.sessions) as session:
        await mark_prompted(session, [rating.id, rating.id])
    changed = await _rate(loop, action_id, 5)
    assert (changed.rating, changed.prompted) == (5, True)
