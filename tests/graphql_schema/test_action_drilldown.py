"""The actions behind a dashboard's number: `actions(filter: {teamId, agentId, escalated, from,
to})` lists exactly what the rollups counted (organisation -> team -> agent -> actions); a team
out of sight, or another organisation's, matches nothing; a malformed id names its field."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.relay import GlobalID

from tests.graphql_schema.test_dashboards import RANGE, _seed, gid

WINDOW = {"from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}
ACTIONS = """query($filter: ActionFilter, $first: Int) { actions(filter: $filter, first: $first) {
  totalCount edges { node { actionType decision agent { name } outcomes { outcomeType } } } } }"""
COUNTS = """query($agent: ID!, $team: ID!, $from: Date, $to: Date) {
  repDashboard(agentId: $agent, from: $from, to: $to) { metrics { interactions
    escalations { count } } }
  teamDashboard(teamId: $team, from: $from, to: $to) { metrics { interactions
    escalations { count } } } }"""


@pytest.fixture
def seeded(api: Any) -> Any:
    api.client.portal.call(_seed, api.client.app.state.app, api.world)
    return api


def listed(api: Any, as_: str, first: int = 100, **conditions: Any) -> dict[str, Any]:
    answer = api.query(ACTIONS, {"filter": {**WINDOW, **conditions}, "first": first}, as_=as_)
    assert "errors" not in answer, answer
    return answer["data"]["actions"]


def test_the_lists_behind_the_escalation_and_interaction_counts(seeded: Any) -> None:
    api = seeded
    a1, alpha = gid("Agent", api.world.agents["rep_a1"]), gid("Team", api.world.teams["alpha"])
    counts = api.query(COUNTS, {"agent": a1, "team": alpha, **RANGE}, as_="manager_a")["data"]
    rep, team = counts["repDashboard"]["metrics"], counts["teamDashboard"]["metrics"]
    escalations = listed(api, "rep_a1", agentId=a1, escalated=True)
    assert escalations["totalCount"] == rep["escalations"]["count"] == 3
    # two escalation actions and the e-mail its policy said to escalate
    assert sorted((e["node"]["actionType"], e["node"]["decision"]) for e in escalations["edges"])[
        0
    ] == ("email", "ESCALATE")
    rest = listed(api, "rep_a1", agentId=a1, escalated=False)
    assert rest["totalCount"] == rep["interactions"] - 3
    assert not {e["node"]["decision"] for e in rest["edges"]} & {"ESCALATE"}
    assert "escalation" not in {e["node"]["actionType"] for e in rest["edges"]}
    by_team = listed(api, "manager_a", teamId=alpha)
    assert by_team["totalCount"] == team["interactions"] == 18
    assert {e["node"]["agent"]["name"] for e in by_team["edges"]} == {
        "agent_rep_a1",
        "agent_rep_a2",
    }
    assert (
        listed(api, "manager_a", teamId=alpha, escalated=True)["totalCount"]
        == (team["escalations"]["count"])
    )
    assert listed(api, "exec_n", teamId=alpha, agentId=a1)["totalCount"] == 14


def test_out_of_sight_teams_match_nothing_and_bad_ids_name_their_field(seeded: Any) -> None:
    api = seeded
    alpha, beta = gid("Team", api.world.teams["alpha"]), gid("Team", api.world.teams["beta"])
    assert listed(api, "exec_n", teamId=beta)["totalCount"] == 2
    for who, team in (("manager_a", beta), ("rep_b1", alpha), ("exec_s", alpha)):
        assert listed(api, who, teamId=team)["totalCount"] == 0, who
    assert listed(api, "exec_s", teamId=str(GlobalID("Team", str(10**9))))["totalCount"] == 0
    for bad in (gid("Agent", api.world.agents["rep_a1"]), "nonsense"):
        answer = api.query(ACTIONS, {"filter": {"teamId": bad}}, as_="exec_n")
        (error,) = answer["errors"]
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (
            "invalid",
            "filter.teamId",
        )
