"""Subscriptions over graphql-transport-ws, through the real app (in-process broker, SQLite):
the handshake, who receives which event, access re-checked at every delivery, slow subscribers.

Every wait is bounded: messages are read from the TestClient's session with a deadline.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest
from sqlalchemy import update
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect
from strawberry.relay import GlobalID

import graphql_schema.live.access as access
from backend.auth.models import ApiClient, ApiClientKind
from backend.auth.service import create_api_key
from backend.events.service import Event, channel_for, publish
from backend.orgs.models import User
from backend.pubsub import InProcessBroker
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from graphql_schema.live.hub import LiveHub
from graphql_schema.live.subscriptions import SUBSCRIPTION_LOST_CLOSE

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PROTOCOL = "graphql-transport-ws"
NEEDS_LABEL = (
    "subscription { outcomeNeedsLabel { version stream outcomeId agentId actionId "
    "actionType outcomeType reason } }"
)
POLICY = (
    "subscription($t: String) { policyChanged(actionType: $t) { version stream agentId "
    "actionType policyVersion escalateBelow autonomousAbove frozen changedBy } }"
)
CALIBRATION = "subscription($a: ID) { calibrationChanged(agentId: $a) { version agentId } }"
RECORD_ACTION = """mutation($input: RecordActionInput!) {
  recordAction(input: $input) { action { id } errors { code field message } } }"""
RECORD_SIGNALS = """mutation($input: RecordSignalsInput!) {
  recordSignals(input: $input) { needsLabel errors { code field message } } }"""
FREEZE = """mutation($input: FreezePolicyInput!) {
  freezePolicy(input: $input) { policy { frozen } errors { code field message } } }"""


class Live:
    """One graphql-transport-ws connection through the TestClient, with bounded waits."""

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send_json(message)

    def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        async def within() -> Any:
            with anyio.fail_after(timeout):  # TestClient's own receive() would wait forever
                return await self.ws._send_rx.receive()

        message = self.ws.portal.call(within)
        if message["type"] == "websocket.close":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason", ""))
        return json.loads(message["text"])

    def subscribe(
        self, query: str, variables: dict[str, Any] | None = None, *, id: str = "1"
    ) -> None:
        self.send(
            {
                "id": id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )

    def next_event(self, field: str) -> dict[str, Any]:
        message = self.receive()
        assert message["type"] == "next" and "errors" not in message["payload"], message
        return message["payload"]["data"][field]


@contextmanager
def connect(api, as_: str | None, *, init: bool = True) -> Iterator[Live]:
    with api.client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        live = Live(ws)
        if init:
            payload = {"Authorization": f"Bearer {api.tokens[as_]}"} if as_ else {}
            live.send({"type": "connection_init", "payload": payload})
            assert live.receive()["type"] == "connection_ack"
        yield live


def state_of(api):
    return api.client.app.state.app


def on_app_loop(api, work: Callable[[], Any]) -> Any:
    """Run a coroutine function on the app's event loop (where its broker and engine live)."""
    return api.client.portal.call(work)


def wait_for_subscribers(api, name: str, count: int, *, org: str = "north") -> None:
    channel = channel_for(api.world.orgs[org].id, name)
    deadline = time.monotonic() + 5
    while LiveHub.of(state_of(api)).subscriber_count(channel) < count:
        assert time.monotonic() < deadline, f"{count} subscribers of {channel} never came"
        time.sleep(0.01)


def agent_key(api, rep: str) -> str:
    """A new API key of `rep`'s agent (the fixture has one only for rep_a1's)."""
    agent = api.world.agents[rep]

    async def create() -> str:
        async with transaction(state_of(api).sessions) as session:
            created = await create_api_key(
                session,
                viewer=Viewer.system(agent.organization_id),
                kind=ApiClientKind.AGENT,
                name=f"key of {rep}",
                agent_id=agent.id,
            )
        return created.key

    api.tokens[f"agent_{rep}"] = key = on_app_loop(api, create)
    return key


def needs_label(api, as_: str, key: str) -> str:
    """Through the mutations: an email, then an ambiguous reply -> a labelling task. Returns the
    action's global id."""
    now = api.now()  # the app's clock
    mail = f"<{key}@mail.example>"
    action = api.query(
        RECORD_ACTION,
        {
            "input": {
                "actionType": "email",
                "confidence": 0.6,
                "idempotencyKey": key,
                "occurredAt": (now - dt.timedelta(hours=1)).isoformat(),
                "messageExternalId": mail,
            }
        },
        as_=as_,
    )["data"]["recordAction"]
    assert action["errors"] == [], action
    signals = api.query(
        RECORD_SIGNALS,
        {
            "input": {
                "signals": [
                    {
                        "kind": "email.replied",
                        "source": "esp",
                        "externalId": key,
                        "occurredAt": (now - dt.timedelta(minutes=30)).isoformat(),
                        "messageExternalId": mail,
                    }
                ]
            }
        },
        as_=as_,
    )["data"]["recordSignals"]
    assert (signals["needsLabel"], signals["errors"]) == (1, []), signals
    return action["action"]["id"]


def agent_gid(api, rep: str) -> str:
    return str(GlobalID("Agent", str(api.world.agents[rep].id)))


def test_connection_init_without_or_with_a_bad_token_is_closed_4403(api) -> None:
    for payload in (
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": api.tokens["rep_a1"][:-4] + "abcd"},
    ):
        with connect(api, None, init=False) as live:
            live.send({"type": "connection_init", "payload": payload})
            with pytest.raises(WebSocketDisconnect) as closed:
                live.receive()
            assert closed.value.code == 4403


def test_subscribe_before_init_is_closed_4401(api) -> None:
    with connect(api, None, init=False) as live:
        live.subscribe(NEEDS_LABEL)
        with pytest.raises(WebSocketDisconnect) as closed:
            live.receive()
        assert closed.value.code == 4401


def test_the_legacy_protocol_is_refused(api) -> None:
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        assert ws.accepted_subprotocol is None
        with pytest.raises(WebSocketDisconnect) as closed:
            Live(ws).receive()
        assert closed.value.code == 4406


def test_labelling_tasks_reach_exactly_who_may_see_the_agent(api) -> None:
    agent_key(api, "rep_a2")
    agent_key(api, "rep_s1")
    with (
        connect(api, "rep_a1") as rep,
        connect(api, "manager_a") as manager,
        connect(api, "rep_b1") as other_team,
        connect(api, "partner_n") as partner,
        connect(api, "exec_s") as other_org,
    ):
        for live in (rep, manager, other_team, partner, other_org):
            live.subscribe(NEEDS_LABEL)
        wait_for_subscribers(api, "outcome.needs_label", 4)
        wait_for_subscribers(api, "outcome.needs_label", 1, org="south")

        action = needs_label(api, "agent_a1", "first")
        for live in (rep, manager, partner):
            event = live.next_event("outcomeNeedsLabel")
            assert event["version"] >= 1 and event["stream"] == "labels"
            assert event["agentId"] == agent_gid(api, "rep_a1") and event["actionId"] == action
            assert event["outcomeId"].startswith("T3V0Y29tZT")  # base64 of "Outcome:"
            assert (event["actionType"], event["outcomeType"]) == ("email", "email_reply")
            assert "sentiment" in event["reason"]
        first_version = event["version"]

        needs_label(api, "agent_rep_a2", "second")  # the manager's and partner's, not rep_a1's
        for live in (manager, partner):
            second = live.next_event("outcomeNeedsLabel")
            assert second["agentId"] == agent_gid(api, "rep_a2")
            assert second["version"] == first_version + 1
        needs_label(api, "agent_a1", "third")
        third = rep.next_event("outcomeNeedsLabel")  # the second was skipped for rep_a1
        assert third["version"] == first_version + 2
        needs_label(api, "agent_rep_s1", "south")
        south = other_org.next_event("outcomeNeedsLabel")  # its first: north's never came
        assert south["agentId"] == agent_gid(api, "rep_s1")
        with pytest.raises(TimeoutError):
            other_team.receive(timeout=0.3)  # rep_b1 sees none of alpha's agents


def _narrow_partner_key(api) -> str:
    """A partner key holding only read:analytics (no read:outcomes, no read:calibration)."""
    import asyncio

    from backend.auth.models import ApiClientKind
    from backend.auth.service import create_api_key
    from backend.database import create_engine, create_sessionmaker
    from backend.unit_of_work import transaction
    from backend.viewer import Viewer

    async def make() -> str:
        engine = create_engine(api.client.app.state.app.settings.database_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                created = await create_api_key(
                    session,
                    viewer=Viewer.system(api.world.orgs["north"].id),
                    kind=ApiClientKind.PARTNER,
                    name="narrow",
                    scopes=["read:analytics"],
                )
            return created.key
        finally:
            await engine.dispose()

    return asyncio.run(make())


def test_scopes_and_filters_are_checked_at_subscribe(api) -> None:
    api.tokens["partner_narrow"] = _narrow_partner_key(api)
    with (
        connect(api, "agent_a1") as agent,
        connect(api, "partner_narrow") as partner,
        connect(api, "rep_a1") as rep,
    ):
        agent.subscribe(NEEDS_LABEL)  # the agent's own key follows its outcomes, as it lists them
        with pytest.raises(TimeoutError):
            agent.receive(timeout=0.3)  # no refusal: subscribed
        partner.subscribe(NEEDS_LABEL, id="n")  # a key without read:outcomes
        refused = partner.receive()
        assert refused["type"] == "error" and refused["id"] == "n"
        assert refused["payload"][0]["extensions"]["code"] == "forbidden"
        assert "read:outcomes" in refused["payload"][0]["message"]
        partner.subscribe(POLICY, id="p")  # nor read:calibration, which policies need
        assert partner.receive()["payload"][0]["extensions"]["code"] == "forbidden"

        answers = []
        for n, agent_id in enumerate(
            [
                agent_gid(api, "rep_a2"),
                agent_gid(api, "rep_s1"),
                str(GlobalID("Agent", "999999")),
                str(GlobalID("Team", "1")),
            ]
        ):
            rep.subscribe(CALIBRATION, {"a": agent_id}, id=f"c{n}")
            answer = rep.receive()
            assert answer["type"] == "error" and answer["id"] == f"c{n}"
            answers.append(answer["payload"])
        assert all(a == answers[0] for a in answers)  # out of scope = foreign = unknown
        assert answers[0][0]["message"] == "agent not found"
        assert answers[0][0]["extensions"] == {"code": "not_found", "field": "agentId"}


def test_calibration_changes_by_scope_and_filter(api) -> None:
    # Verdicts move only after many matured outcomes (tests/backend/learning/test_policy.py);
    # here the events module publishes calibration events on the app's broker directly.
    org, a1, a2 = (
        api.world.orgs["north"].id,
        api.world.agents["rep_a1"].id,
        api.world.agents["rep_a2"].id,
    )

    def event(version: int, agent: int | None, action_type: str) -> Event:
        scope = "agent" if agent is not None else "organization"
        return Event(
            "calibration.changed",
            org,
            f"calibration:{scope}:{action_type}",
            version,
            {
                "scope": scope,
                "agentId": agent,
                "actionType": action_type,
                "verdict": "overconfident",
                "previousVerdict": None,
                "n": 160,
                "method": "isotonic",
            },
        )

    everything = (
        "subscription($a: ID, $t: String) { calibrationChanged(agentId: $a, "
        "actionType: $t) { version scope agentId actionType verdict previousVerdict "
        "sampleSize recalibrationMethod } }"
    )
    with (
        connect(api, "rep_a1") as rep,
        connect(api, "exec_n") as boss,
        connect(api, "partner_n") as partner,
        connect(api, "agent_a1") as agent,
    ):
        rep.subscribe(everything)
        rep.subscribe(everything, {"a": agent_gid(api, "rep_a1"), "t": "meeting"}, id="2")
        for live in (boss, partner, agent):
            live.subscribe(everything)
        wait_for_subscribers(api, "calibration.changed", 5)
        events = [
            event(1, None, "email"),
            event(2, a2, "email"),
            event(3, a1, "email"),
            event(4, a1, "meeting"),
        ]
        assert on_app_loop(api, lambda: publish(state_of(api).broker, events)) == 4

        def heard(live: Live, count: int) -> set[tuple[str, int]]:
            messages = [live.receive() for _ in range(count)]
            with pytest.raises(TimeoutError):
                live.receive(timeout=0.3)  # and nothing else
            return {
                (m["id"], m["payload"]["data"]["calibrationChanged"]["version"]) for m in messages
            }

        assert heard(rep, 3) == {("1", 3), ("1", 4), ("2", 4)}
        assert heard(agent, 2) == {("1", 3), ("1", 4)}  # its own agent, with read:policy
        assert heard(partner, 4) == {("1", v) for v in (1, 2, 3, 4)}
        boss.subscribe(everything, {"t": "meeting"}, id="3")
        wait_for_subscribers(api, "calibration.changed", 6)
        on_app_loop(api, lambda: publish(state_of(api).broker, [event(5, None, "meeting")]))
        received = [boss.receive() for _ in range(6)]
        assert [
            m["payload"]["data"]["calibrationChanged"]["version"]
            for m in received
            if m["id"] == "1"
        ] == [1, 2, 3, 4, 5]
        organization_wide = next(m for m in received if m["id"] == "3")
        assert organization_wide["payload"]["data"]["calibrationChanged"] == {
            "version": 5,
            "scope": "organization",
            "agentId": None,
            "actionType": "meeting",
            "verdict": "overconfident",
            "previousVerdict": None,
            "sampleSize": 160,
            "recalibrationMethod": "isotonic",
        }


def test_policy_changes_reach_the_agent_key_and_the_manager(api) -> None:
    needs_label(api, "agent_a1", "make-a-policy")  # the email policy exists from here on
    with (
        connect(api, "manager_a") as manager,
        connect(api, "agent_a1") as agent,
        connect(api, "rep_b1") as other_team,
    ):
        manager.subscribe(POLICY, {"t": "email"})
        manager.subscribe(POLICY, {"t": "meeting"}, id="2")  # a filter that never matches
        agent.subscribe(POLICY)
        other_team.subscribe(POLICY)
        wait_for_subscribers(api, "policy.changed", 4)
        frozen = api.query(
            FREEZE,
            {
                "input": {
                    "agentId": agent_gid(api, "rep_a1"),
                    "actionType": "email",
                    "frozen": True,
                    "reason": "pilot",
                }
            },
            as_="manager_a",
        )
        assert frozen["data"]["freezePolicy"]["errors"] == []
        for live in (manager, agent):
            message = live.receive()
            assert message["id"] == "1"
            event = message["payload"]["data"]["policyChanged"]
            assert event["frozen"] and event["changedBy"] == "user"
            assert event["agentId"] == agent_gid(api, "rep_a1") and event["version"] >= 1
            assert event["stream"] == f"policy:agent:{api.world.agents['rep_a1'].id}:email"
            assert 0 <= event["escalateBelow"] <= event["autonomousAbove"] <= 1
        for live in (manager, other_team):
            with pytest.raises(TimeoutError):
                live.receive(timeout=0.3)


def test_a_deactivated_user_or_revoked_key_ends_the_subscription(api, monkeypatch) -> None:
    monkeypatch.setattr(access, "RECHECK_SECONDS", 0.0)  # re-check the credential every event
    with (
        connect(api, "rep_a1") as rep,
        connect(api, "partner_n") as partner,
        connect(api, "manager_a") as manager,
    ):
        for live in (rep, partner, manager):
            live.subscribe(NEEDS_LABEL)
        wait_for_subscribers(api, "outcome.needs_label", 3)
        needs_label(api, "agent_a1", "before")
        for live in (rep, partner, manager):
            live.next_event("outcomeNeedsLabel")

        async def revoke() -> None:
            async with transaction(state_of(api).sessions) as session:
                await session.execute(
                    update(User).where(User.id == api.world.users["rep_a1"].id).values(active=False)
                )
                await session.execute(
                    update(ApiClient)
                    .where(ApiClient.kind == "partner")
                    .values(revoked_at=dt.datetime.now(dt.UTC))
                )

        on_app_loop(api, revoke)
        needs_label(api, "agent_a1", "after")
        for live, why in ((rep, "invalid or expired token"), (partner, "invalid API key")):
            ended = live.receive()
            assert ended["type"] == "next" and ended["payload"]["data"] is None
            error = ended["payload"]["errors"][0]
            assert error["extensions"]["code"] == "unauthenticated"
            assert error["message"] == f"credentials no longer valid: {why}"
            assert live.receive() == {"id": "1", "type": "complete"}
        assert manager.next_event("outcomeNeedsLabel")["version"] >= 2  # the others go on


def test_connections_on_one_credential_share_one_check(api, monkeypatch) -> None:
    """Many connections presenting the same credential re-authenticate once per window, not once
    each (the real `authenticate`, counted); the check of `connection_init` counts for the
    first events (no re-check of every credential then); a revoked credential ends all of them
    together."""
    checked: list[str] = []
    real = access.authenticate

    async def counted(session, settings, credential, **options):  # type: ignore[no-untyped-def]
        checked.append(credential)
        return await real(session, settings, credential, **options)

    monkeypatch.setattr(access, "authenticate", counted)
    with (
        connect(api, "manager_a") as a,
        connect(api, "manager_a") as b,
        connect(api, "manager_a") as c,
        connect(api, "exec_n") as other,
    ):
        for live in (a, b, c, other):
            live.subscribe(NEEDS_LABEL)
        wait_for_subscribers(api, "outcome.needs_label", 4)
        # Each connection was checked when it connected (one after the other here).
        manager, executive = (f"Bearer {api.tokens[who]}" for who in ("manager_a", "exec_n"))
        assert sorted(checked) == sorted([manager] * 3 + [executive])
        checked.clear()
        needs_label(api, "agent_a1", "shared-1")
        for live in (a, b, c, other):
            live.next_event("outcomeNeedsLabel")
        needs_label(api, "agent_a1", "shared-2")  # within the window: no check at all
        for live in (a, b, c, other):
            live.next_event("outcomeNeedsLabel")
        assert checked == []

        monkeypatch.setattr(access, "RECHECK_SECONDS", 0.0)  # the window is over
        needs_label(api, "agent_a1", "shared-2b")  # one check per credential, not per connection
        for live in (a, b, c, other):
            live.next_event("outcomeNeedsLabel")
        assert sorted(checked) == sorted([manager, executive])

        async def deactivate() -> None:
            async with transaction(state_of(api).sessions) as session:
                await session.execute(
                    update(User)
                    .where(User.id == api.world.users["manager_a"].id)
                    .values(active=False)
                )

        on_app_loop(api, deactivate)
        needs_label(api, "agent_a1", "shared-3")
        for live in (a, b, c):
            ended = live.receive()
            assert ended["payload"]["errors"][0]["extensions"]["code"] == "unauthenticated"
        assert other.next_event("outcomeNeedsLabel")["version"] >= 3


def test_a_dropped_subscriber_is_closed_1013_and_may_come_back(api) -> None:
    # The TestClient never pushes back, so the app's broker gets a queue of one and a burst of
    # two events: the subscriber is dropped as if it had stopped reading. (A client that really
    # stops reading is in test_fanout_processes.py, through real servers.)
    state = state_of(api)
    state.broker = state.bus.broker = InProcessBroker(queue_size=1)
    org = api.world.orgs["north"].id
    channel = channel_for(org, "outcome.needs_label")
    event = {"name": "outcome.needs_label", "organization_id": org, "stream": "labels", "data": {}}

    async def burst() -> None:
        for version in (1, 2):  # no await in between that would let the subscriber read
            await state.broker.publish(channel, {**event, "version": version})

    with connect(api, "manager_a") as live:
        live.subscribe(NEEDS_LABEL)
        wait_for_subscribers(api, "outcome.needs_label", 1)
        on_app_loop(api, burst)
        with pytest.raises(WebSocketDisconnect) as closed:
            live.receive()
        assert closed.value.code == SUBSCRIPTION_LOST_CLOSE == 1013
        assert closed.value.reason == f"subscriber of '{channel}' fell 1 messages behind"
    assert state.broker.subscriber_count() == 0
    with connect(api, "manager_a") as again:  # reconnecting works, then it re-queries
        again.subscribe(NEEDS_LABEL)
        wait_for_subscribers(api, "outcome.needs_label", 1)
        needs_label(api, "agent_a1", "after-drop")
        assert again.next_event("outcomeNeedsLabel")["agentId"] == agent_gid(api, "rep_a1")
