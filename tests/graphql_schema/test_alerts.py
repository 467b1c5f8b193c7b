"""GraphQL: `alertRules`, `alerts`, `upsertAlertRule`, `deleteAlertRule`, `acknowledgeAlert`,
`snoozeAlert`, `resolveAlert` on the real app: who manages and sees what, the audit trail, bad
input, and an alert raised by the evaluation of hand-built rollups."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import func, select
from strawberry.relay import GlobalID

from backend.alerts.evaluation import evaluate_rule
from backend.alerts.models import AlertRule, AlertRuleChange
from backend.database import create_engine, create_sessionmaker
from backend.events.models import EventStream
from backend.unit_of_work import transaction
from tests.backend.alerts.builders import reply_history
from tests.factories import NOW
from tests.graphql_schema.conftest import Api

RULE_FIELDS = """
  id name kind metric actionType scope direction threshold clearThreshold windowDays holdHours
  severity channels enabled createdAt updatedAt deletedAt
  team { name } agent { name } createdBy { name }
  history { totalCount edges { node { change changedAt before after changedBy { name } } } }
"""
UPSERT = f"""
mutation($input: UpsertAlertRuleInput!) {{
  upsertAlertRule(input: $input) {{ rule {{ {RULE_FIELDS} }} errors {{ code field message }} }}
}}
"""
DELETE = """
mutation($id: ID!) {
  deleteAlertRule(input: {id: $id}) { rule { id deletedAt enabled } errors { code field } }
}
"""
RULES = f"""
query($team: ID, $agent: ID, $deleted: Boolean! = false) {{
  alertRules(teamId: $team, agentId: $agent, includeDeleted: $deleted) {{
    totalCount edges {{ node {{ {RULE_FIELDS} }} }}
  }}
}}
"""
ALERT_FIELDS = """
  id kind metric severity state subject message firedAt acknowledgedAt resolvedAt
  snoozedUntil snoozed
  rule { name } team { name } agent { name }
  acknowledgedBy { name } resolvedBy { name } snoozedBy { name }
  evidence { value baseline n window { start end } details }
"""
ALERTS = f"""
query($state: [AlertState!], $severity: AlertSeverity, $team: ID, $agent: ID) {{
  alerts(state: $state, severity: $severity, teamId: $team, agentId: $agent) {{
    totalCount edges {{ node {{ {ALERT_FIELDS} }} }}
  }}
}}
"""
NODE = """
query($id: ID!) {
  node(id: $id) { __typename ... on Alert { id state } ... on AlertRule { id name } }
}
"""
ACKNOWLEDGE = f"""
mutation($id: ID!) {{
  acknowledgeAlert(input: {{id: $id}}) {{ alert {{ {ALERT_FIELDS} }} errors {{ code field }} }}
}}
"""
RESOLVE = f"""
mutation($id: ID!) {{
  resolveAlert(input: {{id: $id}}) {{ alert {{ {ALERT_FIELDS} }} errors {{ code field }} }}
}}
"""
SNOOZE = f"""
mutation($id: ID!, $until: DateTime!) {{
  snoozeAlert(input: {{id: $id, until: $until}}) {{
    alert {{ {ALERT_FIELDS} }} errors {{ code field message }}
  }}
}}
"""


def gid(kind: str, id_: int) -> str:
    return str(GlobalID(kind, str(id_)))


def _errors(payload: dict[str, Any]) -> dict[str | None, str]:
    return {e["field"]: e["code"].lower() for e in payload["errors"]}


def _team_rule(api: Api, **changes: Any) -> dict[str, Any]:
    return {
        "name": "alpha replies",
        "kind": "THRESHOLD",
        "metric": "reply_rate",
        "scope": "TEAM",
        "teamId": gid("Team", api.world.teams["alpha"].id),
        "direction": "BELOW",
        "threshold": 0.2,
        "windowDays": 7,
        "severity": "CRITICAL",
        "channels": ["DASHBOARD", "SLACK"],
        **changes,
    }


def _upsert(api: Api, as_: str, given: dict[str, Any]) -> dict[str, Any]:
    answer = api.query(UPSERT, {"input": given}, as_=as_)
    assert "errors" not in answer, answer
    payload: dict[str, Any] = answer["data"]["upsertAlertRule"]
    return payload


def _rules(api: Api, as_: str, **variables: Any) -> dict[str, Any]:
    answer = api.query(RULES, variables, as_=as_)
    assert "errors" not in answer, answer
    rules: dict[str, Any] = answer["data"]["alertRules"]
    return rules


def _count(database_url: str, model: Any) -> int:
    async def count() -> int:
        engine = create_engine(database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                return int(await session.scalar(select(func.count()).select_from(model)) or 0)
        finally:
            await engine.dispose()

    return asyncio.run(count())


def test_a_manager_creates_a_team_rule_and_it_shows_with_its_audit_trail(api: Api) -> None:
    created = _upsert(api, "manager_a", _team_rule(api))
    assert created["errors"] == []
    rule = created["rule"]
    assert (rule["name"], rule["kind"], rule["metric"], rule["scope"]) == (
        "alpha replies",
        "THRESHOLD",
        "reply_rate",
        "TEAM",
    )
    assert (rule["direction"], rule["threshold"], rule["severity"]) == ("BELOW", 0.2, "CRITICAL")
    assert rule["channels"] == ["DASHBOARD", "SLACK"] and rule["enabled"] is True
    assert rule["team"] == {"name": "alpha"} and rule["createdBy"] == {"name": "manager_a"}
    assert (rule["windowDays"], rule["holdHours"], rule["deletedAt"]) == (7, 24, None)
    [created_change] = [e["node"] for e in rule["history"]["edges"]]
    assert created_change["change"] == "CREATED" and created_change["before"] is None
    assert created_change["changedBy"] == {"name": "manager_a"}
    assert created_change["after"]["threshold"] == 0.2
    assert dt.datetime.fromisoformat(created_change["changedAt"]) >= NOW
    # A retried creation returns the first rule and audits nothing more.
    again = _upsert(api, "manager_a", _team_rule(api))
    assert again["rule"]["id"] == rule["id"] and again["rule"]["history"]["totalCount"] == 1
    # A change and a disabling, each audited, newest first.
    changed = _upsert(api, "manager_a", _team_rule(api, id=rule["id"], threshold=0.15))
    assert changed["errors"] == [] and changed["rule"]["threshold"] == 0.15
    disabled = _upsert(
        api, "manager_a", _team_rule(api, id=rule["id"], threshold=0.15, enabled=False)
    )
    history = [e["node"] for e in disabled["rule"]["history"]["edges"]]
    assert [h["change"] for h in history] == ["DISABLED", "UPDATED", "CREATED"]
    assert (history[1]["before"]["threshold"], history[1]["after"]["threshold"]) == (0.2, 0.15)
    # The team's managers and reps see it; the other team's rep and another organisation not.
    team = gid("Team", api.world.teams["alpha"].id)
    for viewer in ("manager_a", "exec_n", "rep_a1"):
        listed = _rules(api, viewer, team=team)
        assert [e["node"]["id"] for e in listed["edges"]] == [rule["id"]], viewer
        assert listed["edges"][0]["node"]["enabled"] is False
    assert _rules(api, "rep_b1")["totalCount"] == 0
    assert _rules(api, "exec_s")["totalCount"] == 0
    assert api.query(NODE, {"id": rule["id"]}, as_="manager_a")["data"]["node"] == {
        "__typename": "AlertRule",
        "id": rule["id"],
        "name": "alpha replies",
    }
    assert api.query(NODE, {"id": rule["id"]}, as_="exec_s")["data"]["node"] is None
    assert api.query(NODE, {"id": rule["id"]}, as_="partner_n")["data"]["node"] is None


def test_a_rejected_rule_names_its_fields_and_writes_nothing(api: Api, database_url: str) -> None:
    bad = _upsert(
        api,
        "manager_a",
        _team_rule(api, metric="open_rate", threshold=1.5, windowDays=0, holdHours=1000, name=" "),
    )
    assert bad["rule"] is None
    assert _errors(bad) == {
        "name": "invalid",
        "metric": "invalid",
        "threshold": "invalid",
        "windowDays": "invalid",
        "holdHours": "invalid",
    }
    assert "open_rate" in next(e["message"] for e in bad["errors"] if e["field"] == "metric")
    # A threshold rule without its direction or threshold, an anomaly window too long.
    missing = _upsert(api, "manager_a", _team_rule(api, direction=None, threshold=None))
    assert _errors(missing) == {"direction": "invalid", "threshold": "invalid"}
    long = _upsert(api, "manager_a", _team_rule(api, kind="ANOMALY", windowDays=90))
    assert _errors(long) == {"windowDays": "invalid"}
    # Scope: a manager cannot watch the organisation nor another team; ids are checked.
    org = _upsert(api, "manager_a", _team_rule(api, scope="ORGANIZATION", teamId=None))
    assert _errors(org) == {"scope": "forbidden"}
    beta = gid("Team", api.world.teams["beta"].id)
    assert _errors(_upsert(api, "manager_a", _team_rule(api, teamId=beta))) == {
        "teamId": "not_found"
    }
    south = gid("Team", api.world.teams["gamma"].id)
    assert _errors(_upsert(api, "exec_n", _team_rule(api, teamId=south))) == {"teamId": "not_found"}
    assert _errors(_upsert(api, "manager_a", _team_rule(api, teamId="nope"))) == {
        "teamId": "invalid"
    }
    # Reps and API keys do not manage rules.
    assert _errors(_upsert(api, "rep_a1", _team_rule(api))) == {None: "forbidden"}
    assert _errors(_upsert(api, "partner_n", _team_rule(api))) == {None: "forbidden"}
    assert _count(database_url, AlertRule) == 0
    assert _count(database_url, AlertRuleChange) == 0


def test_a_foreign_rule_is_not_found_and_a_deleted_rule_is_kept(api: Api) -> None:
    b1 = api.world.agents["rep_b1"]
    given = _team_rule(
        api, name="b1 replies", scope="AGENT", teamId=None, agentId=gid("Agent", b1.id)
    )
    created = _upsert(api, "exec_n", given)
    assert created["errors"] == []
    rule = created["rule"]
    assert rule["agent"] == {"name": "agent_rep_b1"} and rule["team"] == {"name": "beta"}
    for viewer, own in (("manager_a", "rep_a1"), ("exec_s", "rep_s1")):
        refused = api.query(DELETE, {"id": rule["id"]}, as_=viewer)["data"]["deleteAlertRule"]
        assert refused == {"rule": None, "errors": [{"code": "NOT_FOUND", "field": "id"}]}
        mine = gid("Agent", api.world.agents[own].id)
        changed = _upsert(api, viewer, {**given, "id": rule["id"], "agentId": mine})
        assert _errors(changed) == {"id": "not_found"}
        assert api.query(NODE, {"id": rule["id"]}, as_=viewer)["data"]["node"] is None
        assert _rules(api, viewer)["totalCount"] == 0
    assert _rules(api, "exec_n", agent=gid("Agent", b1.id))["edges"][0]["node"]["threshold"] == 0.2
    assert _rules(api, "rep_b1")["totalCount"] == 1  # the rule of their own agent
    deleted = api.query(DELETE, {"id": rule["id"]}, as_="exec_n")["data"]["deleteAlertRule"]
    assert deleted["errors"] == [] and deleted["rule"]["deletedAt"] is not None
    assert deleted["rule"]["enabled"] is False
    again = api.query(DELETE, {"id": rule["id"]}, as_="exec_n")["data"]["deleteAlertRule"]
    assert again["rule"]["deletedAt"] == deleted["rule"]["deletedAt"]
    assert _rules(api, "exec_n")["totalCount"] == 0
    kept = _rules(api, "exec_n", deleted=True)["edges"][0]["node"]
    assert [e["node"]["change"] for e in kept["history"]["edges"]] == ["DELETED", "CREATED"]
    assert kept["history"]["edges"][0]["node"]["changedBy"] == {"name": "exec_n"}


def _raise_alerts(api: Api, database_url: str, rule_ids: list[int]) -> None:
    """Eight weeks of 10 % replies for every north agent, and the rules evaluated on them."""

    async def build() -> None:
        engine = create_engine(database_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                for key in ("rep_a1", "rep_a2", "rep_b1"):
                    await reply_history(
                        session, api.world.agents[key], days=56, sent=20, replies=lambda _: 2
                    )
            for rule_id in rule_ids:
                async with transaction(create_sessionmaker(engine)) as session:
                    assert await evaluate_rule(session, rule_id, now=NOW) == "created"
        finally:
            await engine.dispose()

    asyncio.run(build())


def _alerts(api: Api, as_: str, **variables: Any) -> list[dict[str, Any]]:
    answer = api.query(ALERTS, variables, as_=as_)
    assert "errors" not in answer, answer
    return [e["node"] for e in answer["data"]["alerts"]["edges"]]


def _stream_version(database_url: str, alert_id: str) -> int:
    row_id = GlobalID.from_id(alert_id).node_id

    async def read() -> int:
        engine = create_engine(database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                version = await session.scalar(
                    select(EventStream.version).where(EventStream.stream == f"alert:{row_id}")
                )
                return int(version or 0)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_an_alert_is_seen_acknowledged_snoozed_and_resolved_within_scope(
    api: Api, database_url: str
) -> None:
    team_rule = _upsert(api, "manager_a", _team_rule(api))["rule"]
    b1 = api.world.agents["rep_b1"]
    agent_rule = _upsert(
        api,
        "exec_n",
        _team_rule(
            api,
            name="b1 replies",
            scope="AGENT",
            teamId=None,
            agentId=gid("Agent", b1.id),
            severity="WARNING",
        ),
    )["rule"]
    rule_ids = [int(GlobalID.from_id(r["id"]).node_id) for r in (team_rule, agent_rule)]
    _raise_alerts(api, database_url, rule_ids)

    def subjects(viewer: str, **variables: Any) -> list[str]:
        return sorted(a["subject"] for a in _alerts(api, viewer, **variables))

    alpha, beta = api.world.teams["alpha"].id, api.world.teams["beta"].id
    assert subjects("exec_n") == sorted([f"team:{alpha}", f"agent:{b1.id}"])
    assert subjects("manager_a") == [f"team:{alpha}"]
    assert subjects("rep_b1") == [f"agent:{b1.id}"]
    assert subjects("rep_a1") == []  # a team alert is for the team's managers
    assert subjects("exec_s") == []
    assert "errors" in api.query(ALERTS, {}, as_="partner_n")
    assert subjects("exec_n", severity="CRITICAL") == [f"team:{alpha}"]
    assert subjects("exec_n", team=gid("Team", beta)) == [f"agent:{b1.id}"]
    assert subjects("exec_n", agent=gid("Agent", b1.id)) == [f"agent:{b1.id}"]
    [alert] = _alerts(api, "manager_a")
    assert (alert["state"], alert["kind"], alert["metric"], alert["severity"]) == (
        "FIRING",
        "THRESHOLD",
        "reply_rate",
        "CRITICAL",
    )
    assert alert["rule"] == {"name": "alpha replies"} and alert["team"] == {"name": "alpha"}
    assert alert["agent"] is None and alert["acknowledgedBy"] is None
    evidence = alert["evidence"]
    assert evidence["value"] == 0.1 and evidence["n"] == 7 * 40
    assert evidence["details"]["threshold"] == 0.2
    window = evidence["window"]
    assert dt.date.fromisoformat(window["end"]) - dt.date.fromisoformat(window["start"]) == (
        dt.timedelta(days=6)
    )
    [other] = _alerts(api, "rep_b1")
    # Out of sight: not found, as an unknown id.
    for viewer, alert_id in (("manager_a", other["id"]), ("exec_s", alert["id"])):
        refused = api.query(ACKNOWLEDGE, {"id": alert_id}, as_=viewer)["data"]
        assert refused["acknowledgeAlert"] == {
            "alert": None,
            "errors": [{"code": "NOT_FOUND", "field": "id"}],
        }
        assert api.query(NODE, {"id": alert_id}, as_=viewer)["data"]["node"] is None
    assert api.query(NODE, {"id": alert["id"]}, as_="rep_a1")["data"]["node"] is None
    assert api.query(NODE, {"id": alert["id"]}, as_="manager_a")["data"]["node"] == {
        "__typename": "Alert",
        "id": alert["id"],
        "state": "FIRING",
    }
    # Acknowledged once: a retry keeps the first who and when, and announces nothing more.
    version = _stream_version(database_url, alert["id"])
    first = api.query(ACKNOWLEDGE, {"id": alert["id"]}, as_="manager_a")["data"]
    acked = first["acknowledgeAlert"]["alert"]
    assert acked["state"] == "ACKNOWLEDGED" and acked["acknowledgedBy"] == {"name": "manager_a"}
    retried = api.query(ACKNOWLEDGE, {"id": alert["id"]}, as_="manager_a")["data"]
    assert retried["acknowledgeAlert"]["alert"]["acknowledgedAt"] == acked["acknowledgedAt"]
    assert _stream_version(database_url, alert["id"]) == version + 1
    # A snooze in the past is refused by field and changes nothing; then one ahead.
    past = (api.now() - dt.timedelta(hours=1)).isoformat()
    refused = api.query(SNOOZE, {"id": alert["id"], "until": past}, as_="exec_n")["data"]
    assert _errors(refused["snoozeAlert"]) == {"until": "invalid"}
    assert _alerts(api, "manager_a")[0]["snoozedUntil"] is None
    until = api.now() + dt.timedelta(hours=4)
    snoozed = api.query(SNOOZE, {"id": alert["id"], "until": until.isoformat()}, as_="exec_n")
    quiet = snoozed["data"]["snoozeAlert"]["alert"]
    assert quiet["snoozed"] is True and quiet["snoozedBy"] == {"name": "exec_n"}
    assert dt.datetime.fromisoformat(quiet["snoozedUntil"]) == until
    api.clock.advance(dt.timedelta(hours=5))
    assert _alerts(api, "manager_a")[0]["snoozed"] is False
    # Resolved by a person; the state filter follows.
    done = api.query(RESOLVE, {"id": alert["id"]}, as_="manager_a")["data"]["resolveAlert"]
    assert done["errors"] == [] and done["alert"]["state"] == "RESOLVED"
    assert done["alert"]["resolvedBy"] == {"name": "manager_a"}
    assert dt.datetime.fromisoformat(done["alert"]["resolvedAt"]) >= NOW + dt.timedelta(hours=5)
    assert subjects("exec_n", state=["FIRING", "ACKNOWLEDGED"]) == [f"agent:{b1.id}"]
    assert subjects("exec_n", state="RESOLVED") == [f"team:{alpha}"]
    later = (api.now() + dt.timedelta(hours=1)).isoformat()
    again = api.query(SNOOZE, {"id": alert["id"], "until": later}, as_="exec_n")
    assert _errors(again["data"]["snoozeAlert"]) == {"id": "invalid"}
    # The other team's rep acts on the alert of their own agent.
    mine = api.query(ACKNOWLEDGE, {"id": other["id"]}, as_="rep_b1")["data"]["acknowledgeAlert"]
    assert mine["alert"]["acknowledgedBy"] == {"name": "rep_b1"}


def test_a_rule_names_its_slack_channel_and_reminder_period(api: Api) -> None:
    fields = "slackChannel remindAfterMinutes history { totalCount }"
    upsert = f"""
    mutation($input: UpsertAlertRuleInput!) {{
      upsertAlertRule(input: $input) {{ rule {{ {fields} }} errors {{ code field message }} }}
    }}"""
    given = _team_rule(api, slackChannel="C0123ABCD", remindAfterMinutes=30)
    answer = api.query(upsert, {"input": given}, as_="manager_a")["data"]["upsertAlertRule"]
    assert answer["errors"] == []
    assert answer["rule"]["slackChannel"] == "C0123ABCD"
    assert answer["rule"]["remindAfterMinutes"] == 30
    default = _upsert(api, "manager_a", _team_rule(api, name="defaults"))["rule"]
    assert default["id"]
    bad = _team_rule(api, name="bad", slackChannel="#general", remindAfterMinutes=2)
    refused = api.query(upsert, {"input": bad}, as_="manager_a")["data"]["upsertAlertRule"]
    assert refused["rule"] is None
    assert _errors(refused) == {"slackChannel": "invalid", "remindAfterMinutes": "invalid"}
    assert "channel id" in next(
        e["message"] for e in refused["errors"] if e["field"] == "slackChannel"
    )
