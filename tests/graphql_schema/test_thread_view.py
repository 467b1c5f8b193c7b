"""The thread view of a review: a thread's messages, oldest first, each with the agent's action
that sent it (confidence, decision, outcomes); a peer reviewer reads the messages but not the
agent's numbers; another organisation's thread is unknown; `first` is bounded and costed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from backend.crm.models import Message, MessageDirection
from backend.unit_of_work import transaction
from tests.factories import NOW
from tests.graphql_schema.test_reviews import ASSIGN, RECORD_SIGNALS, ago, call, thread

VIEW = """query($id: ID!, $first: Int) { node(id: $id) { ... on Thread { messageCount
  messages(first: $first) { direction subject bodyPreview sentAt externalMessageId
    action { id confidence calibratedConfidence decision
             outcomes { outcomeType status value } } } } } }"""
QUEUE = """{ reviewQueue { edges { node { thread { subject messages {
  direction action { confidence outcomes { outcomeType status } } } } } } } }"""


async def _reply(state: Any, name: str) -> None:
    """The contact's answer, as a provider sync would store it (inbound: no action)."""
    async with transaction(state.sessions) as session:
        last = await session.scalar(
            select(Message).where(Message.external_message_id == f"<{name}-8@mail>")
        )
        assert last is not None
        session.add(
            Message(
                organization_id=last.organization_id,
                agent_id=last.agent_id,
                conversation_id=last.conversation_id,
                direction=MessageDirection.INBOUND.value,
                external_message_id=f"<{name}-answer@mail>",
                subject=f"Re: About {name}",
                body_preview="Sounds good, send the proposal",
                sent_at=NOW - dt.timedelta(hours=1),
            )
        )


def _long_thread(api: Any) -> tuple[list[str], str]:
    """rep_a1's agent's nine e-mails, a reply to the first, the contact's answer; assigned to
    manager_a and to the peer rep_a2. The action ids and the thread's id."""
    actions = thread(api, "v-long", messages=9)
    call(
        api,
        RECORD_SIGNALS,
        {
            "signals": [
                {
                    "kind": "email.replied",
                    "source": "esp",
                    "externalId": "v-reply-0",
                    "occurredAt": ago(hours=2),
                    "messageExternalId": "<v-long-0@mail>",
                    "payload": {"sentiment": "positive"},
                }
            ]
        },
        as_="agent_a1",
    )
    api.client.portal.call(_reply, api.client.app.state.app, "v-long")
    assigned = call(api, ASSIGN, {"reviewersPerThread": 2}, as_="manager_a")
    assert assigned["errors"] == [], assigned
    (thread_id,) = {a["thread"]["id"] for a in assigned["assignments"]}
    return actions, thread_id


def _view(api: Any, thread_id: str, as_: str, first: int | None = None) -> Any:
    answer = api.query(VIEW, {"id": thread_id, "first": first}, as_=as_)
    assert "errors" not in answer, answer
    return answer["data"]["node"]


def test_the_thread_view_gives_messages_with_the_agents_confidence_and_outcomes(api) -> None:
    actions, thread_id = _long_thread(api)
    view = _view(api, thread_id, "manager_a")
    assert view["messageCount"] == 10 and len(view["messages"]) == 10
    sent = [m["sentAt"] for m in view["messages"]]
    assert sent == sorted(sent)  # oldest first
    *ours, theirs = view["messages"]
    assert [m["action"]["id"] for m in ours] == actions
    assert {(m["direction"], m["action"]["confidence"]) for m in ours} == {("OUTBOUND", 0.5)}
    assert ours[0]["externalMessageId"] == "<v-long-0@mail>"
    assert ours[0]["subject"] == "About v-long"
    replies = {o["outcomeType"]: o for o in ours[0]["action"]["outcomes"]}
    assert replies["email_reply"]["status"] == "RESOLVED"
    assert replies["email_reply"]["value"] == 1.0
    assert theirs == {
        "direction": "INBOUND",
        "subject": "Re: About v-long",
        "bodyPreview": "Sounds good, send the proposal",
        "sentAt": theirs["sentAt"],
        "externalMessageId": "<v-long-answer@mail>",
        "action": None,
    }
    # The first three only, still oldest first; the owner and the executive see the same.
    assert [m["action"]["id"] for m in _view(api, thread_id, "manager_a", 3)["messages"]] == (
        actions[:3]
    )
    for who in ("rep_a1", "exec_n"):
        assert _view(api, thread_id, who) == view, who


def test_a_peer_reads_the_messages_not_the_agents_numbers_and_others_see_nothing(api) -> None:
    _, thread_id = _long_thread(api)
    peer = _view(api, thread_id, "rep_a2")
    assert len(peer["messages"]) == 10
    assert {m["action"] is None for m in peer["messages"]} == {True}
    assert peer["messages"][0]["externalMessageId"] == "<v-long-0@mail>"
    # Someone who neither sees the agent nor was assigned the thread; another organisation.
    for who in ("rep_b1", "exec_s"):
        assert _view(api, thread_id, who) is None, who
    # From the queue: the peer's thread, its messages (one statement for all the threads).
    queue = api.query(QUEUE, as_="rep_a2")
    assert "errors" not in queue, queue
    (edge,) = queue["data"]["reviewQueue"]["edges"]
    assert len(edge["node"]["thread"]["messages"]) == 10
    queue = api.query(QUEUE, as_="manager_a")["data"]["reviewQueue"]["edges"]
    assert [m["action"]["confidence"] for m in queue[0]["node"]["thread"]["messages"][:9]] == (
        [0.5] * 9
    )


def test_first_is_bounded_and_counted_in_the_cost(api) -> None:
    _, thread_id = _long_thread(api)
    for first in (0, 101):
        answer = api.query(VIEW, {"id": thread_id, "first": first}, as_="manager_a")
        (error,) = answer["errors"]
        assert error["extensions"]["code"] == "invalid", answer
        assert error["extensions"]["field"] == "first"
    small = api.query(VIEW, {"id": thread_id, "first": 2}, as_="manager_a")
    large = api.query(VIEW, {"id": thread_id, "first": 100}, as_="manager_a")
    small_cost = small["extensions"]["cost"]["requestedQueryCost"]
    large_cost = large["extensions"]["cost"]["requestedQueryCost"]
    # Like a connection's `first`: each message asked for (the message and its action) costs 2.
    assert large_cost - small_cost == 98 * 2
    # Charged for what came back: the ten messages, not a hundred.
    assert large["extensions"]["cost"]["actualQueryCost"] < large_cost
