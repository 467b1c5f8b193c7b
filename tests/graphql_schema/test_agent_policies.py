"""`Agent.policies`: every policy of an agent, side by side for a team (one statement for the
policies of all the agents, one for their maps), each equal to `policy` for its action type;
scoped like `policy` (an agent out of sight has none; API keys by scope)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.graphql_schema.test_calibration import POLICY, _seed, agent, gid

FIELDS = """actionType escalateBelow autonomousAbove frozen version updatedAt agent { name }
  calibratedConfidence { method sampleSize points { raw calibrated } }
  evidence { moveAt fedThrough
    escalation { threshold raiseEValue lowerEValue outcomes lastMove }
    autonomy { threshold raiseEValue lowerEValue outcomes lastMove } }"""
AGENT = (
    f"""query($id: ID!) {{ node(id: $id) {{ ... on Agent {{ name policies {{ {FIELDS} }} }} }} }}"""
)
TEAM = f"""query($team: ID!) {{ teamDashboard(teamId: $team) {{
  agents {{ agent {{ name policies {{ {FIELDS} }} }} }} }} }}"""
AGENTS = """{ agents { name policies { actionType version } } }"""


@pytest.fixture
def data(api: Any, database_url: str) -> Any:
    return asyncio.run(_seed(database_url, api))


def policies(api: Any, key: str, as_: str) -> Any:
    answer = api.query(AGENT, {"id": agent(api, key)}, as_=as_)
    assert "errors" not in answer, answer
    node = answer["data"]["node"]
    return None if node is None else node["policies"]


def test_an_agents_policies_equal_the_policy_of_each_type(api: Any, data: Any) -> None:
    mine = policies(api, "rep_a1", "rep_a1")
    escalation = next(p for p in mine if p["actionType"] == "escalation")
    single = api.query(POLICY, {"type": "escalation", "agent": agent(api, "rep_a1")}, as_="rep_a1")
    assert escalation == single["data"]["policy"]
    assert escalation["version"] == 3 and escalation["frozen"]
    assert escalation["calibratedConfidence"]["method"] == "PLATT"
    types = [p["actionType"] for p in mine]
    assert types == sorted(types)
    for who in ("manager_a", "exec_n", "partner_n", "agent_a1"):
        assert policies(api, "rep_a1", who) == mine, who


def test_side_by_side_for_a_team_and_out_of_sight_as_unknown(api: Any, data: Any) -> None:
    team = api.query(TEAM, {"team": gid("Team", api.world.teams["alpha"].id)}, as_="manager_a")
    assert "errors" not in team, team
    rows = {
        r["agent"]["name"]: r["agent"]["policies"] for r in team["data"]["teamDashboard"]["agents"]
    }
    assert rows["agent_rep_a1"] == policies(api, "rep_a1", "manager_a")
    # Another rep's agent, or another organisation's viewer: no node at all, hence no policies.
    assert policies(api, "rep_a1", "rep_a2") is None
    assert policies(api, "rep_a1", "exec_s") is None
    # A rep lists their own agents' policies only.
    listed = api.query(AGENTS, as_="rep_a2")["data"]["agents"]
    assert [a["name"] for a in listed] == ["agent_rep_a2"]
    assert all(p["actionType"] != "escalation" or p["version"] < 3 for p in listed[0]["policies"])


def test_a_key_without_the_scope_is_refused(api: Any, data: Any) -> None:
    for who in ("partner_narrow", "agent_a1_narrow"):
        answer = api.query(AGENT, {"id": agent(api, "rep_a1")}, as_=who)
        assert answer["data"]["node"] == {"name": "agent_rep_a1", "policies": None}, who
        (error,) = answer["errors"]
        assert error["extensions"]["code"] == "forbidden", (who, answer)
