"""Recording a critical action asks the rep who owns the agent for feedback: one open prompt,
published as a `feedback_prompt.changed` event; routine actions, retries and inactive owners
are not prompted."""

from __future__ import annotations

import pytest

from backend.orgs.models import User
from backend.unit_of_work import transaction
from tests.backend.prompts.conftest import HOUR, T0, Prompts, changes


@pytest.mark.parametrize("action_type", ["escalation", "stage_progression"])
async def test_a_critical_action_prompts_the_agents_owner_once(
    prompts: Prompts, action_type: str
) -> None:
    events = prompts.subscribe()
    recorded = await prompts.record("critical-1", action_type)
    assert recorded.created and recorded.action.is_critical
    [prompt] = await prompts.prompts()
    assert (prompt.user_id, prompt.agent_id, prompt.action_id, prompt.organization_id) == (
        prompts.user_id("rep_a1"),
        prompts.world.agents["rep_a1"].id,
        recorded.action.id,
        prompts.org,
    )
    assert (prompt.reason, prompt.state) == ("critical_action", "open")
    assert (prompt.created_at, prompt.expires_at) == (T0, T0 + 24 * HOUR)
    assert prompt.reminded_at is prompt.answered_at is prompt.answered_channel is None
    assert prompt.feedback_id is None
    assert await changes(events) == [(prompt.id, "created", "open")]
    assert await prompts.budgets() == {(prompts.user_id("rep_a1"), T0.date()): 1}

    # The agent retries the same request: the same action, no second prompt, no event.
    again = await prompts.record("critical-1", action_type)
    assert again.created is False and again.action.id == recorded.action.id
    assert [p.id for p in await prompts.prompts()] == [prompt.id]
    assert await changes(events) == []
    assert await prompts.budgets() == {(prompts.user_id("rep_a1"), T0.date()): 1}
    await events.aclose()


async def test_the_event_names_the_prompt_its_person_and_stream(prompts: Prompts) -> None:
    events = prompts.subscribe()
    recorded = await prompts.record("esc-1")
    message = await anext(events)
    [prompt] = await prompts.prompts()
    rep = prompts.user_id("rep_a1")
    assert message["name"] == "feedback_prompt.changed"
    assert message["organization_id"] == prompts.org
    assert message["stream"] == f"prompts:user:{rep}" and message["version"] == 1
    assert message["data"] == {
        "promptId": prompt.id,
        "agentId": prompts.world.agents["rep_a1"].id,
        "userId": rep,
        "actionId": recorded.action.id,
        "state": "open",
        "change": "created",
    }
    await events.aclose()


async def test_routine_actions_are_not_prompted(prompts: Prompts) -> None:
    events = prompts.subscribe()
    email = await prompts.record("email-1", "email", message_external_id="<e1@mail>")
    assert email.created and not email.action.is_critical
    # A routine type flagged critical by the agent is prompted like an escalation.
    flagged = await prompts.record("discount-1", "discount_offer", is_critical=True)
    [prompt] = await prompts.prompts()
    assert prompt.action_id == flagged.action.id
    assert await changes(events) == [(prompt.id, "created", "open")]
    await events.aclose()


async def test_an_inactive_owner_is_not_prompted(prompts: Prompts) -> None:
    async with transaction(prompts.state.sessions) as session:
        owner = await session.get_one(User, prompts.user_id("rep_a1"))
        owner.active = False
    events = prompts.subscribe()
    recorded = await prompts.record("esc-1")
    assert recorded.created and recorded.action.is_critical
    assert await prompts.prompts() == []
    assert await prompts.budgets() == {}  # nothing of their budget was spent
    assert await changes(events) == []
    await events.aclose()
