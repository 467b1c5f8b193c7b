"""A prompt's life on an injected clock, driven by the worker's jobs: reminded once when half
its time is gone (12 of 24 hours), expired when its time is up; an expired prompt cannot be
answered, and an answered one is neither reminded nor expired."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.errors import ErrorCode, InvalidInput
from backend.feedback.service import FeedbackInput
from backend.learning import answer_prompt, submit_rating
from backend.worker import run_jobs_once
from tests.backend.prompts.conftest import HOUR, T0, Prompts, changes

SECOND = dt.timedelta(seconds=1)


async def run_worker(prompts: Prompts, at: dt.datetime) -> dict[str, int]:
    done = await run_jobs_once(prompts.state, now=at)
    assert all(count >= 0 for count in done.values()), done  # no job failed
    return done


async def test_a_prompt_is_reminded_once_then_expires(prompts: Prompts) -> None:
    await prompts.record("esc-1")
    [prompt] = await prompts.prompts()
    events = prompts.subscribe()

    done = await run_worker(prompts, T0 + 11 * HOUR)  # too early for the reminder
    assert (done["remind_feedback_prompts"], done["expire_feedback_prompts"]) == (0, 0)
    assert (await prompts.prompt(prompt.id)).reminded_at is None

    done = await run_worker(prompts, T0 + 13 * HOUR)
    assert done["remind_feedback_prompts"] == 1
    reminded = await prompts.prompt(prompt.id)
    assert (reminded.state, reminded.reminded_at) == ("open", T0 + 13 * HOUR)
    assert await changes(events) == [(prompt.id, "reminded", "open")]

    done = await run_worker(prompts, T0 + 14 * HOUR)  # reminded once only
    assert done["remind_feedback_prompts"] == 0
    assert (await prompts.prompt(prompt.id)).reminded_at == T0 + 13 * HOUR
    assert await changes(events) == []

    done = await run_worker(prompts, T0 + 24 * HOUR - SECOND)
    assert done["expire_feedback_prompts"] == 0
    assert (await prompts.prompt(prompt.id)).state == "open"

    done = await run_worker(prompts, T0 + 24 * HOUR)
    assert done["expire_feedback_prompts"] == 1
    expired = await prompts.prompt(prompt.id)
    assert (expired.state, expired.answered_at, expired.answered_channel) == ("expired", None, None)
    assert await changes(events) == [(prompt.id, "expired", "expired")]

    assert (await run_worker(prompts, T0 + 48 * HOUR))["expire_feedback_prompts"] == 0
    assert await changes(events) == []
    await events.aclose()


async def test_a_prompt_past_its_time_is_not_answered_before_the_worker_expires_it(
    prompts: Prompts,
) -> None:
    await prompts.record("esc-1")
    [prompt] = await prompts.prompts()
    late = T0 + 24 * HOUR + SECOND  # past expires_at; the worker has not run yet
    with pytest.raises(InvalidInput) as raised:
        await answer_prompt(
            prompts.state,
            prompts.people["rep_a1"],
            prompt_id=prompt.id,
            rating=4,
            comment=None,
            channel="dashboard",
            now=late,
        )
    assert [(e.field, e.code) for e in raised.value.errors] == [("promptId", ErrorCode.CONFLICT)]
    rated = await submit_rating(
        prompts.state,
        prompts.people["rep_a1"],
        FeedbackInput(channel="dashboard", action_id=prompt.action_id, rating=4),
        now=late,
    )
    assert rated.feedback.prompted is False
    assert (await prompts.prompt(prompt.id)).state == "open"  # until the worker comes by
    assert (await run_worker(prompts, late))["expire_feedback_prompts"] == 1


async def test_an_expired_prompt_cannot_be_answered(prompts: Prompts) -> None:
    await prompts.record("esc-1")
    [prompt] = await prompts.prompts()
    await run_worker(prompts, T0 + 25 * HOUR)
    events = prompts.subscribe()
    with pytest.raises(InvalidInput) as raised:
        await answer_prompt(
            prompts.state,
            prompts.people["rep_a1"],
            prompt_id=prompt.id,
            rating=4,
            comment="late",
            channel="dashboard",
            now=T0 + 26 * HOUR,
        )
    assert [(e.field, e.code) for e in raised.value.errors] == [("promptId", ErrorCode.CONFLICT)]
    assert "expired at" in raised.value.errors[0].message
    assert await prompts.feedback() == []  # nothing stored
    assert (await prompts.prompt(prompt.id)).state == "expired"
    assert await changes(events) == []
    # The action itself can still be rated; the expired prompt stays expired.
    rated = await submit_rating(
        prompts.state,
        prompts.people["rep_a1"],
        FeedbackInput(channel="dashboard", action_id=prompt.action_id, rating=4),
        now=T0 + 26 * HOUR,
    )
    assert rated.feedback.prompted is False
    assert (await prompts.prompt(prompt.id)).state == "expired"
    await events.aclose()


async def test_an_answered_prompt_is_neither_reminded_nor_expired(prompts: Prompts) -> None:
    await prompts.record("esc-1")
    [prompt] = await prompts.prompts()
    await submit_rating(
        prompts.state,
        prompts.people["rep_a1"],
        FeedbackInput(channel="dashboard", action_id=prompt.action_id, rating=5),
        now=T0 + HOUR,
    )
    events = prompts.subscribe()
    for hours in (13, 25):
        done = await run_worker(prompts, T0 + hours * HOUR)
        assert (done["remind_feedback_prompts"], done["expire_feedback_prompts"]) == (0, 0)
    answered = await prompts.prompt(prompt.id)
    assert (answered.state, answered.reminded_at, answered.answered_at) == (
        "answered",
        None,
        T0 + HOUR,
    )
    assert await changes(events) == []
    await events.aclose()


@pytest.mark.parametrize(
    "prompt_settings", [{"prompt_ttl_hours": 6, "prompt_remind_after_hours": 1}], indirect=True
)
async def test_the_clock_follows_the_settings(prompts: Prompts) -> None:
    await prompts.record("esc-1")
    [prompt] = await prompts.prompts()
    assert prompt.expires_at == T0 + 6 * HOUR
    assert (await run_worker(prompts, T0 + HOUR))["remind_feedback_prompts"] == 1
    assert (await run_worker(prompts, T0 + 6 * HOUR))["expire_feedback_prompts"] == 1
    assert (await prompts.prompt(prompt.id)).state == "expired"


async def test_a_prompt_whose_reminder_is_due_at_expiry_only_expires(prompts: Prompts) -> None:
    """A worker that was down past the expiry does not remind a prompt it then expires."""
    await prompts.record("esc-1")
    [prompt] = await prompts.prompts()
    events = prompts.subscribe()
    done = await run_worker(prompts, T0 + 30 * HOUR)
    assert (done["expire_feedback_prompts"], done["remind_feedback_prompts"]) == (1, 0)
    assert (await prompts.prompt(prompt.id)).reminded_at is None
    assert await changes(events) == [(prompt.id, "expired", "expired")]
    await events.aclose()
