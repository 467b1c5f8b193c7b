"""`alertChanged` over a real WebSocket (graphql-transport-ws) to a running server, on both
configurations (SQLite with the in-process broker, PostgreSQL with Redis): an alert raised by
the server itself (a policy rule fires when a person freezes a policy over HTTP) and then
acknowledged over HTTP reaches the managers of its team, with its change and version, and
nobody else: not a rep of another agent, not another team, not another organisation.

Subscribers are proven live before anything is asserted (`warm_up`, with snoozes of alerts each
may see); one that must not hear an event is then shown its next own event ("marker"), which
must come first. Every wait is bounded.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

import pytest
from strawberry.relay import GlobalID

from tests.e2e.conftest import Deployment, gid
from tests.e2e.test_subscriptions_ws import Policies, live, settle, warm_up

# One worker runs this module's tests: its servers (per database) start once, not once per
# worker that picks up one of its tests.
pytestmark = pytest.mark.xdist_group("e2e-alerts_ws")

ALERT_CHANGED = """subscription { alertChanged { version stream change at byUserId
  alert { id ruleId kind metric actionType severity state teamId agentId message } } }"""
UPSERT_RULE = """mutation($input: UpsertAlertRuleInput!) {
  upsertAlertRule(input: $input) { rule { id } errors { code field message } } }"""
OPEN_ALERTS = """query($agent: ID) { alerts(agentId: $agent, state: [FIRING, ACKNOWLEDGED]) {
  edges { node { id state rule { id } } } } }"""
ACKNOWLEDGE = """mutation($id: ID!) { acknowledgeAlert(input: {id: $id}) {
  alert { id state acknowledgedBy { id } } errors { code field message } } }"""
SNOOZE = """mutation($id: ID!, $until: DateTime!) { snoozeAlert(input: {id: $id, until: $until}) {
  alert { id } errors { code field message } } }"""

snoozes = itertools.count(1)


def add_policy_rule(d: Deployment, *, as_: str, name: str, **scope: Any) -> str:
    """A policy rule on email policies (scope: `scope`/`teamId`/`agentId`), created over HTTP;
    its global id."""
    given = {"name": name, "kind": "POLICY", "metric": "policy_change", "actionType": "email"}
    payload = d.data(UPSERT_RULE, {"input": {**given, **scope}}, as_=as_)["upsertAlertRule"]
    assert payload["errors"] == [], payload
    return payload["rule"]["id"]


def open_alert(d: Deployment, rep: str, *, as_: str) -> dict[str, Any]:
    """The one open alert about ``rep``'s agent, as ``as_`` sees it (waiting, bounded, for the
    server's handler that raises it after the freeze's commit)."""
    agent = gid("Agent", d.ids.agents[rep])
    deadline = time.monotonic() + 10
    while True:
        edges = d.data(OPEN_ALERTS, {"agent": agent}, as_=as_)["alerts"]["edges"]
        if edges:
            [edge] = edges
            return edge["node"]
        assert time.monotonic() < deadline, f"no open alert about {rep}'s agent"
        time.sleep(0.1)


def snooze(d: Deployment, alert_id: str, *, as_: str) -> None:
    """Snooze an alert until a time never asked before: each call is a change (an event)."""
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1, seconds=next(snoozes))
    payload = d.data(SNOOZE, {"id": alert_id, "until": until.isoformat()}, as_=as_)["snoozeAlert"]
    assert payload["errors"] == [], payload


def test_an_alert_reaches_the_managers_of_its_team_and_nobody_else(
    deployment: Deployment,
) -> None:
    d = deployment
    policies = Policies(d)
    alpha = gid("Team", d.ids.teams["alpha"])
    team_rule = add_policy_rule(
        d, as_="manager_a", name="Alpha policies", scope="TEAM", teamId=alpha
    )
    add_policy_rule(
        d,
        as_="exec_n",
        name="B1 policy",
        scope="AGENT",
        agentId=gid("Agent", d.ids.agents["rep_b1"]),
    )
    add_policy_rule(
        d,
        as_="exec_s",
        name="S1 policy",
        scope="AGENT",
        agentId=gid("Agent", d.ids.agents["rep_s1"]),
    )
    # An alert each subscriber sees, to warm up with and to mark with.
    policies.toggle("rep_a2", as_="manager_a")
    policies.toggle("rep_b1", as_="exec_n")
    policies.toggle("rep_s1", as_="exec_s")
    a2 = open_alert(d, "rep_a2", as_="manager_a")["id"]
    b1 = open_alert(d, "rep_b1", as_="exec_n")["id"]
    s1 = open_alert(d, "rep_s1", as_="exec_s")["id"]

    with (
        live(d, "manager_a") as manager,
        live(d, "rep_a2") as teammate,  # same team, another agent
        live(d, "rep_b1") as other_team,
        live(d, "exec_s") as other_org,
    ):
        everyone = (manager, teammate, other_team, other_org)
        for subscriber in everyone:
            subscriber.subscribe(ALERT_CHANGED)
        warm_up(
            "alertChanged",
            [
                (manager, lambda: snooze(d, a2, as_="manager_a")),
                (teammate, lambda: snooze(d, a2, as_="manager_a")),
                (other_team, lambda: snooze(d, b1, as_="exec_n")),
                (other_org, lambda: snooze(d, s1, as_="exec_s")),
            ],
        )
        assert settle(everyone) == [[], [], [], []]

        # The server raises it: the team's policy rule fires on rep_a1's agent being frozen.
        policies.toggle("rep_a1", as_="manager_a")
        created = manager.next_event("alertChanged")
        alert = created["alert"]
        assert created["change"] == "CREATED" and created["byUserId"] is None
        assert created["version"] == 1 and created["stream"] == f"alert:{_raw(alert['id'])}"
        assert alert["ruleId"] == team_rule and alert["kind"] == "policy"
        assert (alert["teamId"], alert["agentId"]) == (alpha, gid("Agent", d.ids.agents["rep_a1"]))
        assert (alert["state"], alert["actionType"]) == ("firing", "email")
        found = open_alert(d, "rep_a1", as_="manager_a")  # committed before it was heard
        assert found == {"id": alert["id"], "state": "FIRING", "rule": {"id": team_rule}}

        acknowledged = d.data(ACKNOWLEDGE, {"id": alert["id"]}, as_="manager_a")
        assert acknowledged["acknowledgeAlert"]["errors"] == [], acknowledged
        heard = manager.next_event("alertChanged")
        assert heard["change"] == "ACKNOWLEDGED" and heard["stream"] == created["stream"]
        assert heard["version"] == created["version"] + 1
        assert heard["byUserId"] == gid("User", d.ids.users["manager_a"])
        assert heard["alert"]["id"] == alert["id"] and heard["alert"]["state"] == "acknowledged"

        # The others were live, yet their next event is their own, not rep_a1's alert.
        snooze(d, a2, as_="manager_a")
        assert teammate.next_event("alertChanged")["alert"]["id"] == a2
        assert manager.next_event("alertChanged")["alert"]["id"] == a2  # their team too
        snooze(d, b1, as_="exec_n")
        assert other_team.next_event("alertChanged")["alert"]["id"] == b1
        snooze(d, s1, as_="exec_s")
        assert other_org.next_event("alertChanged")["alert"]["id"] == s1
        assert settle(everyone) == [[], [], [], []]


@pytest.mark.parametrize("key", ["partner_n", "agent_a1"])
def test_an_api_key_may_not_subscribe_to_alerts(deployment: Deployment, key: str) -> None:
    with live(deployment, key) as subscriber:
        subscriber.subscribe(ALERT_CHANGED)
        message = subscriber.receive(timeout=10)
        assert message["type"] in ("error", "next"), message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["forbidden"]
        assert settle([subscriber]) == [[]]  # and nothing follows


def _raw(global_id: str) -> str:
    """The row id inside a global id."""
    return GlobalID.from_id(global_id).node_id
