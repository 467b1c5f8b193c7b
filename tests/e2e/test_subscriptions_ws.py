"""Subscriptions over a real WebSocket (graphql-transport-ws) to a running server: each event
arrives after the mutation that caused it (over HTTP), to those who may see it and no one else.

The protocol does not acknowledge `subscribe`, so before asserting anything each subscriber is
proven live by an event it may see ("warm-up"); a subscriber that must not receive an event is
then shown its next own event ("marker") and must receive that one first. Every wait is bounded.

A key revoked or a person deactivated by another process ends their subscriptions within a
second, through Redis (signing out, on both configurations: tests/e2e/test_sign_in_http.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import update
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from backend.auth.events import AccessRevoked
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, revoke_api_key
from backend.handlers import open_state
from backend.orgs.models import User
from backend.settings import load_settings
from backend.unit_of_work import raise_event, transaction
from backend.viewer import Viewer
from tests.conftest import REDIS_URL
from tests.e2e.conftest import Deployment, gid
from tests.servers import redis_prefix_for

# One worker runs this module's tests: its servers (per database) start once, not once per
# worker that picks up one of its tests.
pytestmark = pytest.mark.xdist_group("e2e-subscriptions_ws")

PROTOCOL = "graphql-transport-ws"
NEEDS_LABEL = """subscription { outcomeNeedsLabel { version stream outcomeId agentId actionId
  actionType outcomeType reason } }"""
POLICY_CHANGED = """subscription($t: String) { policyChanged(actionType: $t) { version stream
  agentId actionType policyVersion escalateBelow autonomousAbove frozen changedBy } }"""
RECORD_ACTION = """mutation($input: RecordActionInput!) {
  recordAction(input: $input) { action { id } errors { code field message } } }"""
RECORD_SIGNALS = """mutation($input: RecordSignalsInput!) {
  recordSignals(input: $input) { needsLabel errors { code field message } } }"""
FREEZE = """mutation($input: FreezePolicyInput!) {
  freezePolicy(input: $input) { policy { version frozen } errors { code field message } } }"""
LABEL_QUEUE = "{ labelQueue(first: 100) { edges { node { id status action { id } } } } }"
POLICY = 'query($a: ID) { policy(actionType: "email", agentId: $a) { version frozen } }'


class Live:
    """One graphql-transport-ws connection, acknowledged, with bounded reads."""

    def __init__(self, ws: ClientConnection, role: str) -> None:
        self.ws = ws
        self.role = role

    def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> None:
        self.ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )

    def receive(self, timeout: float) -> dict[str, Any]:
        """The next message; TimeoutError when none comes in `timeout` seconds."""
        return json.loads(self.ws.recv(timeout=timeout))

    def next_event(self, field: str, timeout: float = 10.0) -> dict[str, Any]:
        message = self.receive(timeout)
        assert message["type"] == "next" and "errors" not in message["payload"], message
        return message["payload"]["data"][field]

    def drain(self) -> list[dict[str, Any]]:
        """The messages already received (the socket's buffer), without waiting."""
        messages = []
        while True:
            try:
                messages.append(self.receive(0.02))
            except TimeoutError:
                return messages


def ended_unauthenticated(subscriber: Live, why: str, *, within: float = 1.0) -> None:
    """Its subscription ends (`unauthenticated`, then `complete`) within ``within`` seconds."""
    started = time.monotonic()
    ended = subscriber.receive(within)
    assert ended["type"] == "next" and ended["payload"]["data"] is None, ended
    [error] = ended["payload"]["errors"]
    assert error["extensions"]["code"] == "unauthenticated", error
    assert error["message"] == f"credentials no longer valid: {why}", error
    assert subscriber.receive(within) == {"id": "1", "type": "complete"}
    assert time.monotonic() - started < within


def settle(subscribers: tuple[Live, ...] | list[Live], quiet: float = 0.5) -> list[list[dict]]:
    """What each subscriber received until `quiet` seconds after now (events are published
    before the mutation's response is sent, so a caused event is due well within that)."""
    time.sleep(quiet)
    return [subscriber.drain() for subscriber in subscribers]


@contextmanager
def live(deployment: Deployment, role: str) -> Iterator[Live]:
    with connect(
        deployment.ws_url, subprotocols=[PROTOCOL], open_timeout=10, close_timeout=5
    ) as ws:
        ws.send(
            json.dumps(
                {
                    "type": "connection_init",
                    "payload": {"Authorization": f"Bearer {deployment.tokens[role]}"},
                }
            )
        )
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        yield Live(ws, role)


def warm_up(field: str, pairs: list[tuple[Live, Callable[[], Any]]]) -> None:
    """Cause an event each subscriber may see until each has received one, then drain all."""
    pending = list(pairs)
    deadline = time.monotonic() + 20
    while pending:
        for _, cause in pending:
            cause()
        still = []
        for subscriber, cause in pending:
            try:
                subscriber.next_event(field, timeout=0.5)
            except TimeoutError:
                still.append((subscriber, cause))
        pending = still
        assert time.monotonic() < deadline, [s.role for s, _ in pending]
    settle([subscriber for subscriber, _ in pairs], quiet=1.0)  # the stragglers of the loop


# -- causes, through the API --------------------------------------------------------------------

counter = itertools.count()


def needs_label(deployment: Deployment, key: str) -> str:
    """An email by the agent key `key`, then a reply without sentiment: a labelling task.
    Returns the action's global id."""
    ref = f"{key}-{next(counter)}"
    now = dt.datetime.now(dt.UTC)
    mail = f"<ws-{ref}@mail>"
    action = deployment.data(
        RECORD_ACTION,
        {
            "input": {
                "actionType": "email",
                "confidence": 0.4,
                "idempotencyKey": f"ws-{ref}",
                "occurredAt": (now - dt.timedelta(hours=2)).isoformat(),
                "messageExternalId": mail,
            }
        },
        as_=key,
    )["recordAction"]
    assert action["errors"] == [], action
    signals = deployment.data(
        RECORD_SIGNALS,
        {
            "input": {
                "signals": [
                    {
                        "kind": "email.replied",
                        "source": "esp",
                        "externalId": f"ws-{ref}",
                        "occurredAt": (now - dt.timedelta(hours=1)).isoformat(),
                        "messageExternalId": mail,
                    }
                ]
            }
        },
        as_=key,
    )["recordSignals"]
    assert signals == {"needsLabel": 1, "errors": []}, signals
    return action["action"]["id"]


class Policies:
    """Toggles agents' email policies (pinned, released, ...) through `freezePolicy`."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.frozen: dict[str, bool] = {}

    def toggle(self, rep: str, *, as_: str) -> dict[str, Any]:
        frozen = self.frozen[rep] = not self.frozen.get(rep, False)
        agent = gid("Agent", self.deployment.ids.agents[rep])
        payload = self.deployment.data(
            FREEZE,
            {"input": {"agentId": agent, "actionType": "email", "frozen": frozen, "reason": "e2e"}},
            as_=as_,
        )["freezePolicy"]
        assert payload["errors"] == [] and payload["policy"]["frozen"] is frozen, payload
        return payload["policy"]


# -- tests ----------------------------------------------------------------------------------------


def test_outcome_needs_label_reaches_exactly_who_may_see_the_agent(deployment: Deployment) -> None:
    d = deployment
    with (
        live(d, "rep_a1") as rep,
        live(d, "manager_a") as manager,
        live(d, "rep_a2") as other_rep,
        live(d, "exec_s") as other_org,
    ):
        everyone = (rep, manager, other_rep, other_org)
        for subscriber in everyone:
            subscriber.subscribe(NEEDS_LABEL)
        warm_up(
            "outcomeNeedsLabel",
            [
                (rep, lambda: needs_label(d, "agent_a1")),
                (manager, lambda: needs_label(d, "agent_a1")),
                (other_rep, lambda: needs_label(d, "agent_a2")),
                (other_org, lambda: needs_label(d, "agent_s1")),
            ],
        )
        assert settle(everyone) == [[], [], [], []]  # nothing pending

        action = needs_label(d, "agent_a1")
        seen = [subscriber.next_event("outcomeNeedsLabel") for subscriber in (rep, manager)]
        assert seen[0] == seen[1]
        event = seen[0]
        assert event["actionId"] == action and event["stream"] == "labels"
        assert event["agentId"] == gid("Agent", d.ids.agents["rep_a1"])
        assert (event["actionType"], event["outcomeType"]) == ("email", "email_reply")
        queue = d.data(LABEL_QUEUE, as_="rep_a1")["labelQueue"]["edges"]  # committed before
        assert {"id": event["outcomeId"], "status": "NEEDS_LABEL", "action": {"id": action}} in [
            e["node"] for e in queue
        ]

        # rep_a2 and exec_s were live, yet their next event is their own, not rep_a1's.
        marker = needs_label(d, "agent_a2")
        assert other_rep.next_event("outcomeNeedsLabel")["actionId"] == marker
        assert manager.next_event("outcomeNeedsLabel")["actionId"] == marker  # their team
        south = needs_label(d, "agent_s1")
        south_event = other_org.next_event("outcomeNeedsLabel")
        assert south_event["actionId"] == south
        assert south_event["version"] >= 1  # its organisation's own stream
        after = needs_label(d, "agent_a1")
        assert rep.next_event("outcomeNeedsLabel")["actionId"] == after  # skipped a2's and s1's
        second = manager.next_event("outcomeNeedsLabel")
        assert second["actionId"] == after and second["version"] == event["version"] + 2
        assert settle(everyone) == [[], [], [], []]


def test_policy_changed_reaches_exactly_who_may_see_the_agent(deployment: Deployment) -> None:
    d = deployment
    policies = Policies(d)
    a1 = gid("Agent", d.ids.agents["rep_a1"])
    with (
        live(d, "manager_a") as manager,
        live(d, "rep_a1") as rep,
        live(d, "rep_a2") as other_rep,
        live(d, "exec_s") as other_org,
    ):
        everyone = (manager, rep, other_rep, other_org)
        for subscriber in everyone:
            subscriber.subscribe(POLICY_CHANGED, {"t": "email"})
        warm_up(
            "policyChanged",
            [
                (manager, lambda: policies.toggle("rep_a1", as_="manager_a")),
                (rep, lambda: policies.toggle("rep_a1", as_="manager_a")),
                (other_rep, lambda: policies.toggle("rep_a2", as_="manager_a")),
                (other_org, lambda: policies.toggle("rep_s1", as_="exec_s")),
            ],
        )
        assert settle(everyone) == [[], [], [], []]

        policy = policies.toggle("rep_a1", as_="manager_a")
        seen = [subscriber.next_event("policyChanged") for subscriber in (manager, rep)]
        assert seen[0] == seen[1]
        event = seen[0]
        assert event["agentId"] == a1 and event["actionType"] == "email"
        assert (event["policyVersion"], event["frozen"]) == (policy["version"], policy["frozen"])
        assert event["changedBy"] == "user"
        assert d.data(POLICY, {"a": a1}, as_="manager_a")["policy"] == policy

        marker = policies.toggle("rep_a2", as_="manager_a")
        for subscriber in (other_rep, manager):  # rep_a2 got nothing of rep_a1's agent
            mine = subscriber.next_event("policyChanged")
            assert mine["agentId"] == gid("Agent", d.ids.agents["rep_a2"])
            assert mine["policyVersion"] == marker["version"]
        south = policies.toggle("rep_s1", as_="exec_s")
        south_event = other_org.next_event("policyChanged")
        assert south_event["agentId"] == gid("Agent", d.ids.agents["rep_s1"])
        assert south_event["policyVersion"] == south["version"]
        assert settle(everyone) == [[], [], [], []]


def test_who_may_not_subscribe_is_refused(deployment: Deployment) -> None:
    with connect(deployment.ws_url, subprotocols=[PROTOCOL], open_timeout=10) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer x"}}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    with live(deployment, "partner_narrow") as partner:  # no read:calibration, as `policy` needs
        partner.subscribe(POLICY_CHANGED)
        message = partner.receive(timeout=10)
        assert message["type"] in ("error", "next"), message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["forbidden"]


def as_another_process(deployment: Deployment, work) -> Any:  # type: ignore[no-untyped-def]
    """Run ``work(state)`` in this process, on the server's database and Redis: what it revokes
    is announced there, as by another server or the CLI."""

    async def run() -> Any:
        settings = load_settings(
            database_url=deployment.database_url,
            redis_url=REDIS_URL,
            redis_channel_prefix=redis_prefix_for(deployment.database_url),
            worker_in_process=False,
        )
        state = open_state(settings)
        try:
            return await work(state)
        finally:
            await state.close()

    return asyncio.run(run())


def test_a_revoked_key_or_deactivated_person_is_cut_off_at_once(deployment: Deployment) -> None:
    d = deployment
    if d.name == "sqlite":
        pytest.skip("the in-process broker is reached from the server's own process only")
    north = Viewer.system(d.ids.orgs["north"])

    async def new_agent_key(state) -> tuple[int, str]:  # type: ignore[no-untyped-def]
        async with transaction(state.sessions) as session:
            created = await create_api_key(
                session,
                viewer=north,
                kind=ApiClientKind.AGENT,
                name="revoked soon",
                agent_id=d.ids.agents["rep_a1"],
            )
        return created.client.id, created.key

    key_id, d.tokens["agent_revoked"] = as_another_process(d, new_agent_key)
    exec_n = d.ids.users["exec_n"]

    async def set_active(state, active: bool) -> None:  # type: ignore[no-untyped-def]
        async with transaction(state.sessions) as session:
            await session.execute(update(User).where(User.id == exec_n).values(active=active))
            if not active:  # as deactivating a person announces it
                raise_event(
                    session, AccessRevoked(organization_id=north.organization_id, user_id=exec_n)
                )

    try:
        with (
            live(d, "agent_revoked") as revoked_key,
            live(d, "exec_n") as deactivated,
            live(d, "manager_a") as manager,
        ):
            everyone = (revoked_key, deactivated, manager)
            for subscriber in everyone:
                subscriber.subscribe(NEEDS_LABEL)
            warm_up(
                "outcomeNeedsLabel",
                [(subscriber, lambda: needs_label(d, "agent_a1")) for subscriber in everyone],
            )

            async def revoke(state) -> None:  # type: ignore[no-untyped-def]
                async with transaction(state.sessions) as session:
                    await revoke_api_key(
                        session, viewer=north, api_client_id=key_id, now=state.now()
                    )

            as_another_process(d, revoke)
            ended_unauthenticated(revoked_key, "invalid API key")
            as_another_process(d, lambda state: set_active(state, False))
            ended_unauthenticated(deactivated, "invalid or expired token")

            action = needs_label(d, "agent_a1")  # the others go on
            assert manager.next_event("outcomeNeedsLabel")["actionId"] == action
            assert settle((revoked_key, deactivated)) == [[], []]
    finally:
        as_another_process(d, lambda state: set_active(state, True))
