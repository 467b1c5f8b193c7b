"""The `alertChanged` subscription through the real app (in-process broker, SQLite): alerts
raised by evaluating rules on hand-built rollups and acknowledged through the alert service
reach exactly who sees them (`backend.alerts.service.sees_alert`), with the subscription's own
filters on top.

Every wait is bounded. Events of one channel are dispatched in order by one task, so once a
subscriber has the last event caused, every other subscriber already has all it will get.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import select
from strawberry.relay import GlobalID

from backend.alerts.evaluation import evaluate_rule
from backend.alerts.events import AlertChange
from backend.alerts.models import Alert
from backend.alerts.service import acknowledge_alert
from backend.auth.service import viewer_for_user
from backend.auth.tokens import issue_user_token
from backend.orgs.models import TeamManager, User
from backend.unit_of_work import transaction
from tests.backend.alerts.builders import add_rule, reply_history
from tests.graphql_schema.test_subscriptions import (
    Live,
    connect,
    on_app_loop,
    state_of,
    wait_for_subscribers,
)

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ALERTS = """subscription($team: ID, $agent: ID, $severity: String) {
  alertChanged(teamId: $team, agentId: $agent, severity: $severity) {
    version stream change at byUserId
    alert { id ruleId kind metric actionType severity state teamId agentId message } } }"""


def gid(type_name: str, row_id: int) -> str:
    return str(GlobalID(type_name, str(row_id)))


def add_manager(api: Any, key: str, team: str) -> None:
    """A manager of ``team``, with a token under ``key`` (the world has only alpha's)."""
    team_row = api.world.teams[team]

    async def create() -> str:
        org = team_row.organization_id
        async with transaction(state_of(api).sessions) as session:
            user = User(organization_id=org, email=f"{key}@x.example", name=key, role="manager")
            session.add(user)
            await session.flush()
            session.add(TeamManager(organization_id=org, team_id=team_row.id, user_id=user.id))
        return issue_user_token(
            user_id=user.id,
            organization_id=org,
            secret_key=state_of(api).settings.secret_key,
            ttl=dt.timedelta(hours=1),
        )

    api.tokens[key] = on_app_loop(api, create)


def raise_alert(
    api: Any, rep: str, *, scope: str, severity: str = "warning", at: dt.datetime | None = None
) -> int:
    """A reply-rate rule on ``rep``'s team or agent, that agent's replies down to 4 % a day,
    the rule evaluated (at ``at``, by default the app's now): the id of the alert it fired."""
    agent = api.world.agents[rep]
    now = at or api.now()
    target = {"team_id": agent.team_id, "agent_id": agent.id if scope == "agent" else None}

    async def fire() -> int:
        sessions = state_of(api).sessions
        async with transaction(sessions) as session:
            rule = await add_rule(
                session,
                agent.organization_id,
                scope=scope,
                direction="below",
                threshold=0.06,
                severity=severity,
                **target,
            )
            await reply_history(session, agent, days=30, sent=100, replies=lambda day: 4)
        async with transaction(sessions) as session:
            assert await evaluate_rule(session, rule.id, now=now) is AlertChange.CREATED
            return (await session.scalars(select(Alert.id).where(Alert.rule_id == rule.id))).one()

    return on_app_loop(api, fire)


def acknowledge(api: Any, alert_id: int, *, as_: str, at: dt.datetime | None = None) -> None:
    now = at or api.now()

    async def ack() -> None:
        async with transaction(state_of(api).sessions) as session:
            viewer = await viewer_for_user(session, api.world.users[as_])
            await acknowledge_alert(session, viewer, alert_id, now=now)

    on_app_loop(api, ack)


def heard(live: Live, count: int) -> dict[str, list[tuple[str, str]]]:
    """``count`` events, as (alert id, change) by subscription id; and nothing else."""
    by_operation: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for _ in range(count):
        message = live.receive()
        assert message["type"] == "next" and "errors" not in message["payload"], message
        event = message["payload"]["data"]["alertChanged"]
        by_operation[message["id"]].append((event["alert"]["id"], event["change"]))
    with pytest.raises(TimeoutError):  # all it will get was dispatched before the last event
        live.receive(timeout=0.3)
    return dict(by_operation)


def test_alert_changes_reach_exactly_who_sees_the_alert(api) -> None:
    world = api.world
    add_manager(api, "manager_b", "beta")
    with (
        connect(api, "manager_a") as manager,
        connect(api, "rep_a1") as rep,
        connect(api, "rep_a2") as teammate,
        connect(api, "exec_n") as boss,
        connect(api, "manager_b") as other_manager,
        connect(api, "exec_s") as other_org,
    ):
        for live in (manager, rep, teammate, boss, other_manager, other_org):
            live.subscribe(ALERTS)
        alpha = gid("Team", world.teams["alpha"].id)
        manager.subscribe(ALERTS, {"team": alpha, "severity": "critical"}, id="2")
        boss.subscribe(ALERTS, {"agent": gid("Agent", world.agents["rep_b1"].id)}, id="2")
        wait_for_subscribers(api, "alert.changed", 7)
        wait_for_subscribers(api, "alert.changed", 1, org="south")

        team = gid("Alert", raise_alert(api, "rep_a1", scope="team"))  # about alpha, no agent
        raw_a1 = raise_alert(api, "rep_a1", scope="agent", severity="critical")
        a1 = gid("Alert", raw_a1)
        acknowledge(api, raw_a1, as_="manager_a")
        b1 = gid("Alert", raise_alert(api, "rep_b1", scope="agent"))
        s1 = gid("Alert", raise_alert(api, "rep_s1", scope="agent"))
        a2 = gid("Alert", raise_alert(api, "rep_a2", scope="agent"))  # the last

        created, acked = "CREATED", "ACKNOWLEDGED"
        assert heard(manager, 6) == {
            "1": [(team, created), (a1, created), (a1, acked), (a2, created)],
            "2": [(a1, created), (a1, acked)],  # alpha's critical ones
        }
        assert heard(rep, 2) == {"1": [(a1, created), (a1, acked)]}  # not the team's alert
        assert heard(teammate, 1) == {"1": [(a2, created)]}
        assert heard(boss, 6) == {
            "1": [(team, created), (a1, created), (a1, acked), (b1, created), (a2, created)],
            "2": [(b1, created)],
        }
        assert heard(other_manager, 1) == {"1": [(b1, created)]}  # not alpha's
        assert heard(other_org, 1) == {"1": [(s1, created)]}  # only its organisation's


def test_an_alert_event_carries_the_alert_and_who_changed_it(api) -> None:
    world = api.world
    with connect(api, "rep_a1") as rep:
        rep.subscribe(ALERTS)
        wait_for_subscribers(api, "alert.changed", 1)
        fired_at = api.now()
        raw = raise_alert(api, "rep_a1", scope="agent", severity="critical", at=fired_at)
        acked_at = fired_at + dt.timedelta(minutes=5)
        acknowledge(api, raw, as_="rep_a1", at=acked_at)
        created, acked = (rep.next_event("alertChanged") for _ in range(2))
    alert = {
        "id": gid("Alert", raw),
        "ruleId": created["alert"]["ruleId"],
        "kind": "threshold",
        "metric": "reply_rate",
        "actionType": None,
        "severity": "critical",
        "state": "firing",
        "teamId": gid("Team", world.teams["alpha"].id),
        "agentId": gid("Agent", world.agents["rep_a1"].id),
        "message": created["alert"]["message"],
    }
    assert created == {
        "version": 1,
        "stream": f"alert:{raw}",
        "change": "CREATED",
        "at": fired_at.isoformat(),
        "byUserId": None,
        "alert": alert,
    }
    assert created["alert"]["ruleId"].startswith("QWxlcnRSdWxlOj")  # "AlertRule:"
    assert "reply" in created["alert"]["message"]
    assert acked == {
        **created,
        "version": 2,
        "change": "ACKNOWLEDGED",
        "at": acked_at.isoformat(),
        "byUserId": gid("User", world.users["rep_a1"].id),
        "alert": {**alert, "state": "acknowledged"},
    }


def test_api_keys_and_bad_filters_are_refused_at_subscribe(api) -> None:
    for as_, variables, code in (
        ("partner_n", {}, "forbidden"),
        ("agent_a1", {}, "forbidden"),
        ("exec_n", {"severity": "loud"}, "invalid"),
        ("exec_n", {"agent": gid("Team", 1)}, "not_found"),
    ):
        with connect(api, as_) as live:
            live.subscribe(ALERTS, variables)
            message = live.receive()
            assert message["type"] in ("error", "next"), message
            payload = message["payload"]
            errors = payload if message["type"] == "error" else payload["errors"]
            assert [e["extensions"]["code"] for e in errors] == [code], (as_, variables, errors)
