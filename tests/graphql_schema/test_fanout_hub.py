"""The live hub, through the real app (in-process broker, SQLite): each event is authorised once
per principal and executed and encoded once per query document, however many subscribers; and
subscriptions that close leave nothing behind in the hub, the broker or the heap."""

from __future__ import annotations

import gc
import time
from collections import Counter
from contextlib import ExitStack

import pytest

import graphql_schema.live.access as access
import graphql_schema.live.hub as hub_module
from backend.events.service import channel_for
from backend.pubsub import Subscription
from graphql_schema.context import Context
from graphql_schema.live.documents import SharedDocument
from graphql_schema.live.hub import LiveChannel, LiveHub, Member
from tests.graphql_schema.test_subscriptions import (
    NEEDS_LABEL,
    agent_gid,
    connect,
    needs_label,
    state_of,
    wait_for_subscribers,
)

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

OTHER_DOCUMENT = "subscription { outcomeNeedsLabel { version agentId } }"


def test_one_check_per_principal_and_one_encoding_per_document(api, monkeypatch) -> None:
    checks: list[str] = []
    real_viewer = access.CredentialChecks.viewer

    async def counted_viewer(self, state, credential, *, not_before):  # type: ignore[no-untyped-def]
        checks.append(credential)
        return await real_viewer(self, state, credential, not_before=not_before)

    encodings: list[str] = []
    real_payload = SharedDocument.payload

    def counted_payload(self, event):  # type: ignore[no-untyped-def]
        encodings.append(self.key[0])
        return real_payload(self, event)

    monkeypatch.setattr(access.CredentialChecks, "viewer", counted_viewer)
    monkeypatch.setattr(SharedDocument, "payload", counted_payload)
    who = ["manager_a"] * 4 + ["exec_n"] * 3 + ["rep_a2"] * 2  # rep_a2 may not see the agent
    with ExitStack() as stack:
        lives = [stack.enter_context(connect(api, as_)) for as_ in who]
        for n, live in enumerate(lives):
            live.subscribe(OTHER_DOCUMENT if n in (0, 4) else NEEDS_LABEL)
        wait_for_subscribers(api, "outcome.needs_label", len(lives))
        needs_label(api, "agent_a1", "once")
        delivered = [live.next_event("outcomeNeedsLabel") for live in lives[:7]]
        for live in lives[7:]:
            with pytest.raises(TimeoutError):
                live.receive(timeout=0.3)
    assert {e["agentId"] for e in delivered} == {agent_gid(api, "rep_a1")}
    assert delivered[1] == delivered[2] == delivered[3] == delivered[5] == delivered[6]
    assert set(delivered[0]) == {"version", "agentId"}
    # One check per credential (3 principals), one encoding per document (2 documents).
    assert sorted(checks) == sorted(
        f"Bearer {api.tokens[as_]}" for as_ in ("manager_a", "exec_n", "rep_a2")
    )
    assert sorted(encodings) == sorted([NEEDS_LABEL, OTHER_DOCUMENT])


def _wait_until_all_left(hub: LiveHub) -> None:
    deadline = time.monotonic() + 5
    while hub.subscriber_count() or hub.channels:
        assert time.monotonic() < deadline, f"{hub.subscriber_count()} subscribers never left"
        time.sleep(0.01)


def _live_objects() -> Counter[str]:
    gc.collect()
    kinds = (Member, LiveChannel, Subscription, Context, hub_module.Principal, SharedDocument)
    return Counter(type(o).__name__ for o in gc.get_objects() if isinstance(o, kinds))


def test_closed_subscriptions_leave_nothing_behind(api) -> None:
    state = state_of(api)
    hub = LiveHub.of(state)
    channel = channel_for(api.world.orgs["north"].id, "outcome.needs_label")
    with connect(api, "manager_a") as live:  # warm: the first connection builds caches
        live.subscribe(NEEDS_LABEL)
        wait_for_subscribers(api, "outcome.needs_label", 1)
    _wait_until_all_left(hub)
    before = _live_objects()
    for _ in range(3):
        with ExitStack() as stack:
            lives = [stack.enter_context(connect(api, "manager_a")) for _ in range(20)]
            for n, live in enumerate(lives):
                live.subscribe(OTHER_DOCUMENT if n % 2 else NEEDS_LABEL)
            wait_for_subscribers(api, "outcome.needs_label", len(lives))
            assert len(hub.channels[channel].documents) == 2
            assert _live_objects()["Member"] == 20
        _wait_until_all_left(hub)
    assert hub.channels == {}
    assert hub.subscriber_count() == 0
    assert state.broker.subscriber_count() == 0
    after = _live_objects()
    assert after["Member"] == after["LiveChannel"] == after["SharedDocument"] == 0
    assert after["Principal"] == 0
    assert after["Subscription"] <= before["Subscription"]
    assert after["Context"] <= before["Context"]
