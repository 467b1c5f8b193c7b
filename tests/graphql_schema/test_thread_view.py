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
QUEUE = """{ reviewQueue(first: 10) { edges { node { thread { subject messages {
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


PAGES = """query($id: ID!, $first: Int, $after: String) { node(id: $id) { ... on Thread {
  messageCount
  messagesConnection(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { direction externalMessageId action { id } } } } } } }"""


def _pages(api: Any, thread_id: str, as_: str, **variables: Any) -> Any:
    answer = api.query(PAGES, {"id": thread_id, **variables}, as_=as_)
    assert "errors" not in answer, answer
    return answer["data"]["node"]["messagesConnection"]


def test_messages_page_through_a_long_thread_with_first_and_after(api) -> None:
    actions, thread_id = _long_thread(api)
    whole = _view(api, thread_id, "manager_a")["messages"]
    seen: list[Any] = []
    after = None
    for expected_size, more in ((4, True), (4, True), (2, False)):
        page = _pages(api, thread_id, "manager_a", first=4, after=after)
        assert page["totalCount"] == 10
        assert len(page["edges"]) == expected_size
        assert page["pageInfo"]["hasNextPage"] is more
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        seen += [edge["node"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"]
    # The pages, joined, are the thread oldest first, as the list gives it.
    assert [m["externalMessageId"] for m in seen] == [m["externalMessageId"] for m in whole]
    assert [m["action"]["id"] for m in seen[:9]] == actions
    assert seen[9]["direction"] == "INBOUND" and seen[9]["action"] is None
    # Default page: 50, so the whole thread; a peer pages the same messages without numbers.
    default = _pages(api, thread_id, "manager_a")
    assert len(default["edges"]) == 10 and default["pageInfo"]["hasNextPage"] is False
    peer = _pages(api, thread_id, "rep_a2", first=3)
    second = _pages(api, thread_id, "rep_a2", first=3, after=peer["pageInfo"]["endCursor"])
    assert [e["node"]["externalMessageId"] for e in second["edges"]] == [
        m["externalMessageId"] for m in whole[3:6]
    ]
    assert {e["node"]["action"] is None for e in peer["edges"] + second["edges"]} == {True}


def test_message_pages_are_bounded_costed_and_closed_to_others(api) -> None:
    _, thread_id = _long_thread(api)
    for first in (0, 101):
        answer = api.query(PAGES, {"id": thread_id, "first": first}, as_="manager_a")
        (error,) = answer["errors"]
        assert error["extensions"]["code"] == "invalid", answer
        assert error["extensions"]["field"] == "first"
    answer = api.query(PAGES, {"id": thread_id, "after": "not-a-cursor"}, as_="manager_a")
    (error,) = answer["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("invalid", "after")
    # Each message asked for is charged (as any connection counts); without `first`,
    # the field's default page of 50.
    costs = {}
    for first in (2, 50, None):
        answer = api.query(PAGES, {"id": thread_id, "first": first}, as_="manager_a")
        costs[first] = answer["extensions"]["cost"]["requestedQueryCost"]
    assert costs[50] - costs[2] == 48 * 4  # pageInfo, edge, node, action
    assert costs[None] == costs[50]
    # A cursor of this thread opens nothing to someone who may not read it.
    cursor = _pages(api, thread_id, "manager_a", first=2)["pageInfo"]["endCursor"]
    for who in ("rep_b1", "exec_s"):
        answer = api.query(PAGES, {"id": thread_id, "after": cursor}, as_=who)
        assert answer["data"]["node"] is None, who


def test_a_list_of_threads_reads_its_first_message_pages_together(api) -> None:
    _long_thread(api)
    query = """{ reviewQueue { edges { node { thread { messageCount
      messagesConnection(first: 3) { totalCount pageInfo { hasNextPage }
        edges { node { externalMessageId } } } } } } } }"""
    answer = api.query(query, as_="manager_a")
    assert "errors" not in answer, answer
    (edge, *_) = answer["data"]["reviewQueue"]["edges"]
    page = edge["node"]["thread"]["messagesConnection"]
    assert page["totalCount"] == edge["node"]["thread"]["messageCount"] == 10
    assert page["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["externalMessageId"] for e in page["edges"]] == [
        f"<v-long-{i}@mail>" for i in range(3)
    ]
    # The list without `first` is charged for its default page too: 50 messages (and their
    # actions) for each of the 10 threads asked.
    plain = api.query(QUEUE, as_="manager_a")["extensions"]["cost"]["requestedQueryCost"]
    assert plain >= 10 * 50 * 2
