"""POST /webhooks/crm through the real app on each database: deal and meeting events resolve
the outcomes of the actions on that deal or thread."""

from __future__ import annotations

import datetime as dt

from backend.actions.service import ActionInput
from tests.backend.webhooks.conftest import Hooks, at, events, fields

PATH = "/webhooks/crm"


def crm_event(hooks: Hooks, event_id: str, event: str, **fields: object) -> dict[str, object]:
    return {"id": event_id, "event": event, "occurred_at": at(hooks.now), **fields}


async def test_a_stage_change_resolves_the_deal_progression(hooks) -> None:
    action_id = await hooks.stage_change("d1")
    response = hooks.post(
        PATH,
        events(
            crm_event(
                hooks,
                "crm-1",
                "stage_changed",
                deal_id="deal-d1",
                from_stage="prospecting",
                to_stage="discovery",
            )
        ),
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["stored"], body["matched"], body["resolved"]) == (1, 1, 1)
    progression = (await hooks.outcomes(action_id))["deal_progression"]
    assert (progression.status, progression.level, progression.value) == ("resolved", 2, 0.5)
    (stored,) = await hooks.signals()
    assert (stored.kind, stored.source) == ("deal.stage_changed", "crm")
    assert stored.payload == {"from_stage": "prospecting", "to_stage": "discovery"}


async def test_a_meeting_is_found_by_its_thread(hooks) -> None:
    recorded = await hooks._act(
        ActionInput(
            action_type="meeting",
            confidence=0.5,
            idempotency_key="mt",
            occurred_at=hooks.now - dt.timedelta(hours=2),
            thread_external_id="thread-mt",
        )
    )
    response = hooks.post(
        PATH,
        events(
            crm_event(hooks, "crm-2", "meeting_attended", thread_id="thread-mt"),
            crm_event(hooks, "crm-3", "meeting_feedback", thread_id="thread-mt", rating="positive"),
        ),
    )
    assert response.json()["resolved"] == 2
    outcomes = await hooks.outcomes(recorded)
    assert outcomes["meeting_attendance"].value == 1.0
    assert outcomes["meeting_feedback"].value == 1.0


async def test_an_unknown_deal_is_stored_and_reported(hooks) -> None:
    response = hooks.post(PATH, events(crm_event(hooks, "crm-4", "won", deal_id=991)))
    assert response.status_code == 200
    assert response.json()["unmatched"] == [{"source": "crm", "externalId": "crm-4"}]
    (stored,) = await hooks.signals()
    assert (stored.kind, stored.matched) == ("deal.won", False)


async def test_missing_crm_fields_are_named_and_nothing_is_stored(hooks) -> None:
    response = hooks.post(
        PATH,
        events(
            crm_event(hooks, "crm-5", "lost", deal_id="deal-x"),
            crm_event(hooks, "crm-6", "stage_changed", from_stage="qualified"),
            crm_event(hooks, "crm-7", "meeting_scheduled", rescheduled="yes"),
            crm_event(hooks, "crm-8", "merged", deal_id="deal-x"),
        ),
    )
    assert response.status_code == 400
    assert fields(response) == {
        "events[1].deal_id",
        "events[1].to_stage",
        "events[2].thread_id",
        "events[2].rescheduled",
        "events[3].event",
    }
    assert await hooks.signal_count() == 0


async def test_a_batch_signed_with_another_organisations_secret_is_refused(hooks) -> None:
    response = hooks.post(
        PATH, events(crm_event(hooks, "crm-9", "won", deal_id="d")), secret=hooks.secret("south")
    )
    assert response.status_code == 401
    assert await hooks.signal_count() == 0
