"""Signal-id squatting (issue #16): idempotency is per writer, so one principal can never make
another's event vanish as a "duplicate". Another agent's key records an e-mail provider's event
id first, through GraphQL; the provider's signed event with that id still resolves agent 1's
outcome. Each writer's own retries still count once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from backend.agents.models import Agent
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.backend.webhooks.conftest import Hooks, at, events

RECORD_SIGNALS = """mutation($input: RecordSignalsInput!) { recordSignals(input: $input) {
  received stored duplicates matched resolved unmatched { source externalId }
  errors { field code message } } }"""


async def _other_agents_key(hooks: Hooks) -> tuple[str, int]:
    """A key of another agent of the same organisation (it cannot see agent 1's work)."""
    organization_id = hooks.agent.organization_id
    async with transaction(hooks.state.sessions) as session:
        other = await session.scalar(
            select(Agent.id)
            .where(
                Agent.organization_id == organization_id,
                Agent.id.not_in(hooks.agent.agent_ids or ()),
            )
            .order_by(Agent.id)
            .limit(1)
        )
        assert other is not None
        created = await create_api_key(
            session,
            viewer=Viewer.system(organization_id),
            kind=ApiClientKind.AGENT,
            name="squatter",
            agent_id=other,
        )
    return created.key, created.client.id


def _record(hooks: Hooks, key: str, signal: dict[str, Any]) -> dict[str, Any]:
    response = hooks.client.post(
        "/graphql",
        json={"query": RECORD_SIGNALS, "variables": {"input": {"signals": [signal]}}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["data"]["recordSignals"]
    assert result["errors"] == []
    return result


async def test_an_agent_key_cannot_squat_the_providers_event_id(hooks) -> None:
    action_id = await hooks.email("m1")
    squatter, squatter_id = await _other_agents_key(hooks)
    squatted = {
        "kind": "email.replied",
        "source": "email_provider",
        "externalId": "esp-1",
        "occurredAt": at(hooks.now),
        "messageExternalId": "<m1@mail>",
        "payload": {"sentiment": "negative"},
    }
    first = _record(hooks, squatter, squatted)
    assert (first["stored"], first["matched"], first["resolved"]) == (1, 0, 0)
    again = _record(hooks, squatter, squatted)  # the squatter's own retry counts once
    assert (again["stored"], again["duplicates"]) == (0, 1)
    assert (await hooks.outcomes(action_id))["email_reply"].status == "open"

    reply = {
        "id": "esp-1",
        "type": "replied",
        "message_id": "<m1@mail>",
        "timestamp": at(hooks.now),
        "sentiment": "positive",
    }
    answer = hooks.post("/webhooks/email-events", events(reply)).json()
    assert (answer["stored"], answer["duplicates"], answer["matched"]) == (1, 0, 1)
    assert answer["resolved"] == 2
    outcome = (await hooks.outcomes(action_id))["email_reply"]
    assert (outcome.status, outcome.value) == ("resolved", 1.0)
    retried = hooks.post("/webhooks/email-events", events(reply)).json()
    assert (retried["stored"], retried["duplicates"], retried["resolved"]) == (0, 1, 0)
    stored = [(s.writer, s.external_id, s.matched) for s in await hooks.signals()]
    assert stored == [(f"key:{squatter_id}", "esp-1", False), ("webhook", "esp-1", True)]
