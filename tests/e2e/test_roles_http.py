"""Each role sees exactly its scope, over HTTP against a running server; another organisation's
ids, and ids out of the caller's scope, get exactly the answer an unknown id gets.

The seeded deployment (tests/e2e/conftest.py) gives every agent 4 actions (2 without outcomes, 2
emails with 2 outcomes each), one outcome needing a label, one resolved calibrating outcome,
its email policy (version 1) and its rep's rating.
"""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.relay import GlobalID

from tests.e2e.conftest import REPS, Deployment, gid

# One worker runs this module's tests: its servers (per database) start once, not once per
# worker that picks up one of its tests.
pytestmark = pytest.mark.xdist_group("e2e-roles_http")

NORTH = {"rep_a1", "rep_a2", "rep_b1"}
# The reps whose agents each role sees.
SCOPE = {
    "rep_a1": {"rep_a1"},
    "rep_a2": {"rep_a2"},
    "manager_a": {"rep_a1", "rep_a2"},
    "exec_n": NORTH,
    "exec_s": {"rep_s1"},
    "agent_a1": {"rep_a1"},
    "partner_n": NORTH,
    "partner_narrow": NORTH,
}
ROLES = tuple(SCOPE)
TEAMS = {
    "rep_a1": {"alpha"},
    "rep_a2": {"alpha"},
    "manager_a": {"alpha"},
    "exec_n": {"alpha", "beta"},
    "exec_s": {"gamma"},
    "agent_a1": {"alpha"},
    "partner_n": {"alpha", "beta"},
    "partner_narrow": {"alpha", "beta"},
}
TEAM_AGENTS = {"alpha": {"rep_a1", "rep_a2"}, "beta": {"rep_b1"}, "gamma": {"rep_s1"}}
ORG = {role: "south" if role == "exec_s" else "north" for role in ROLES}
ORG_USERS = {
    "north": {"exec_n", "manager_a", "rep_a1", "rep_a2", "rep_b1"},
    "south": {"exec_s", "rep_s1"},
}
# Roles refused (`forbidden`, whatever the ids) per field: keys without the `read:*` scope
# (the agent's key reads its own actions, outcomes and, with read:policy, calibration and
# policy), reps and agent keys on team and organisation dashboards.
REFUSED = {
    "actions": {"partner_narrow"},
    "outcomes": {"partner_narrow"},
    "feedback": {"agent_a1", "partner_narrow"},
    "labelQueue": {"agent_a1", "partner_n", "partner_narrow"},
    "calibration": {"partner_narrow"},
    "policy": {"partner_narrow"},
    "repDashboard": {"agent_a1"},
    "teamDashboard": {"rep_a1", "rep_a2", "agent_a1"},
    "executiveDashboard": {"rep_a1", "rep_a2", "manager_a", "agent_a1"},
}
UNKNOWN = 987654

by_role = pytest.mark.parametrize("role", ROLES)


def answer(
    deployment: Deployment, query: str, variables: dict[str, Any] | None = None, *, as_: str
) -> dict[str, Any]:
    """The response without its `extensions` (the cost budget moves between requests)."""
    response = deployment.query(query, variables, as_=as_)
    response.pop("extensions", None)
    return response


def refused(response: dict[str, Any]) -> bool:
    errors = response.get("errors") or []
    assert response.get("data") is None or not errors, response
    return [e["extensions"].get("code") for e in errors] == ["forbidden"]


def row_ids(global_ids: list[str], type_name: str) -> set[int]:
    decoded = [GlobalID.from_id(value) for value in global_ids]
    assert {g.type_name for g in decoded} <= {type_name}
    return {int(g.node_id) for g in decoded}


def agent_names(reps: set[str]) -> list[str]:
    return sorted(f"agent_{rep}" for rep in reps)


def expect_same_as_unknown(
    deployment: Deployment,
    query: str,
    variable: str,
    type_name: str,
    hidden: list[int],
    *,
    as_: str,
    **variables: Any,
) -> dict[str, Any]:
    """Every hidden id answers exactly like an unknown id; returns that answer."""
    unknown = answer(deployment, query, {**variables, variable: gid(type_name, UNKNOWN)}, as_=as_)
    for row_id in hidden:
        given = answer(deployment, query, {**variables, variable: gid(type_name, row_id)}, as_=as_)
        assert given == unknown, (as_, type_name, row_id)
    return unknown


# -- lists ------------------------------------------------------------------------------------


@by_role
def test_agents_and_viewer(deployment: Deployment, role: str) -> None:
    query = "{ agents { id name } viewer { agents { name } organization { slug } } }"
    data = deployment.data(query, as_=role)
    assert sorted(a["name"] for a in data["agents"]) == agent_names(SCOPE[role])
    assert row_ids([a["id"] for a in data["agents"]], "Agent") == {
        deployment.ids.agents[rep] for rep in SCOPE[role]
    }
    assert sorted(a["name"] for a in data["viewer"]["agents"]) == agent_names(SCOPE[role])
    assert data["viewer"]["organization"]["slug"] == ORG[role]


LISTS = {
    "actions": "{ actions(first: 100) { totalCount edges { node { id agent { name } } } } }",
    "outcomes": "{ outcomes(first: 100) { totalCount edges { node { id action { id } } } } }",
    "feedback": "{ feedback(first: 100) { totalCount edges { node { id author { name } } } } }",
    "labelQueue": "{ labelQueue(first: 100) { totalCount edges { node { id status } } } }",
}


@by_role
def test_lists_hold_exactly_the_rows_of_the_agents_in_scope(
    deployment: Deployment, role: str
) -> None:
    ids, reps = deployment.ids, SCOPE[role]
    pages = {}
    for name, query in LISTS.items():
        response = answer(deployment, query, as_=role)
        assert refused(response) == (role in REFUSED[name]), (name, response)
        if role not in REFUSED[name]:
            page = response["data"][name]
            assert page["totalCount"] == len(page["edges"]), name
            pages[name] = [edge["node"] for edge in page["edges"]]
    if "actions" in pages:
        expected = {action for rep in reps for action in ids.actions[rep]}
        assert row_ids([n["id"] for n in pages["actions"]], "Action") == expected
        assert {n["agent"]["name"] for n in pages["actions"]} == set(agent_names(reps))
    if "outcomes" in pages:
        assert len(pages["outcomes"]) == 4 * len(reps)  # two emails with two outcomes each
        outcome_ids = row_ids([n["id"] for n in pages["outcomes"]], "Outcome")
        assert {ids.labelling[r] for r in reps} | {ids.resolved[r] for r in reps} <= outcome_ids
        emails = {action for rep in reps for action in ids.actions[rep][2:]}
        assert row_ids([n["action"]["id"] for n in pages["outcomes"]], "Action") == emails
    if "feedback" in pages:
        assert row_ids([n["id"] for n in pages["feedback"]], "Feedback") == {
            ids.feedback[rep] for rep in reps
        }
        assert {n["author"]["name"] for n in pages["feedback"]} == reps
    if "labelQueue" in pages:
        assert row_ids([n["id"] for n in pages["labelQueue"]], "Outcome") == {
            ids.labelling[rep] for rep in reps
        }
        assert {n["status"] for n in pages["labelQueue"]} <= {"NEEDS_LABEL"}


FILTERED = {
    "actions": "query($a: ID) { actions(filter: {agentId: $a}) { totalCount "
    "pageInfo { hasNextPage endCursor } edges { node { id } } } }",
    "outcomes": "query($a: ID) { outcomes(filter: {agentId: $a}) { totalCount "
    "pageInfo { hasNextPage endCursor } edges { node { id } } } }",
    "feedback": "query($a: ID) { feedback(filter: {agentId: $a}) { totalCount "
    "pageInfo { hasNextPage endCursor } edges { node { id } } } }",
}


@by_role
def test_filtering_by_a_hidden_agent_is_an_empty_page_like_an_unknown_one(
    deployment: Deployment, role: str
) -> None:
    hidden = [deployment.ids.agents[rep] for rep in REPS if rep not in SCOPE[role]]
    for name, query in FILTERED.items():
        unknown = expect_same_as_unknown(deployment, query, "a", "Agent", hidden, as_=role)
        if role in REFUSED[name]:
            assert refused(unknown)
            continue
        assert unknown == {
            "data": {
                name: {
                    "totalCount": 0,
                    "edges": [],
                    "pageInfo": {"hasNextPage": False, "endCursor": None},
                }
            }
        }
        for rep in SCOPE[role]:
            page = deployment.data(
                query, {"a": gid("Agent", deployment.ids.agents[rep])}, as_=role
            )[name]
            assert page["totalCount"] == {"actions": 4, "outcomes": 4, "feedback": 1}[name]


# -- calibration and policy -------------------------------------------------------------------

# Ranges are explicit (`deployment.range`, the days of the seed): the server's default range
# ends on its own today, which is not this test's business.
CALIBRATION = """query($a: ID, $t: ID, $from: Date, $to: Date) { calibration(actionType: "email",
  agentId: $a, teamId: $t, from: $from, to: $to) { sampleSize verdict { kind } } }"""
HISTORY = """query($a: ID, $t: ID, $from: Date, $to: Date) { calibrationHistory(
  actionType: "email", agentId: $a, teamId: $t, from: $from, to: $to) { sampleSize } }"""


@by_role
def test_calibration_counts_the_outcomes_in_scope(deployment: Deployment, role: str) -> None:
    days = deployment.range
    everything = answer(deployment, CALIBRATION, days, as_=role)
    history = answer(deployment, HISTORY, days, as_=role)
    if role in REFUSED["calibration"]:
        assert refused(everything) and refused(history)
    else:  # one resolved email reply per agent
        assert everything["data"]["calibration"]["sampleSize"] == len(SCOPE[role])
        assert sum(p["sampleSize"] for p in history["data"]["calibrationHistory"]) == len(
            SCOPE[role]
        )
    hidden_agents = [deployment.ids.agents[rep] for rep in REPS if rep not in SCOPE[role]]
    hidden_teams = [deployment.ids.teams[t] for t in TEAM_AGENTS if t not in TEAMS[role]]
    for query, field in ((CALIBRATION, "calibration"), (HISTORY, "calibrationHistory")):
        for variable, type_name, hidden in (
            ("a", "Agent", hidden_agents),
            ("t", "Team", hidden_teams),
        ):
            unknown = expect_same_as_unknown(
                deployment, query, variable, type_name, hidden, as_=role, **days
            )
            if role in REFUSED["calibration"]:
                assert refused(unknown)
                continue
            code = unknown["errors"][0]["extensions"]
            assert unknown["data"] is None and code == {
                "code": "not_found",
                "field": {"a": "agentId", "t": "teamId"}[variable],
            }
        if role in REFUSED["calibration"]:
            continue
        for rep in SCOPE[role]:
            mine = deployment.data(
                query, {"a": gid("Agent", deployment.ids.agents[rep]), **days}, as_=role
            )[field]
            total = (
                mine["sampleSize"] if field == "calibration" else sum(p["sampleSize"] for p in mine)
            )
            assert total == 1, (rep, mine)
        for team in TEAMS[role]:
            seen = TEAM_AGENTS[team] & SCOPE[role]  # a rep sees their own agents of the team
            mine = deployment.data(
                query, {"t": gid("Team", deployment.ids.teams[team]), **days}, as_=role
            )[field]
            total = (
                mine["sampleSize"] if field == "calibration" else sum(p["sampleSize"] for p in mine)
            )
            assert total == len(seen), (team, mine)


POLICY = """query($a: ID) { policy(actionType: "email", agentId: $a) { version frozen
  agent { name } } }"""
POLICY_HISTORY = """query($a: ID) { policyHistory(actionType: "email", agentId: $a) {
  totalCount edges { node { version changedBy } } } }"""


@by_role
def test_policies_of_agents_in_scope_only(deployment: Deployment, role: str) -> None:
    hidden = [deployment.ids.agents[rep] for rep in REPS if rep not in SCOPE[role]]
    for query in (POLICY, POLICY_HISTORY):
        unknown = expect_same_as_unknown(deployment, query, "a", "Agent", hidden, as_=role)
        if role in REFUSED["policy"]:
            assert refused(unknown)
            continue
        assert unknown["data"] is None
        assert unknown["errors"][0]["extensions"] == {"code": "not_found", "field": "agentId"}
        for rep in SCOPE[role]:
            data = deployment.data(query, {"a": gid("Agent", deployment.ids.agents[rep])}, as_=role)
            if query is POLICY:
                assert data["policy"] == {
                    "version": 1,
                    "frozen": False,
                    "agent": {"name": f"agent_{rep}"},
                }
            else:
                assert data["policyHistory"]["totalCount"] == 1


# -- dashboards -------------------------------------------------------------------------------

# Over the days of the seed (`deployment.range`), not the server's default last 30 days.
REP_DASHBOARD = """query($a: ID!, $from: Date, $to: Date) { repDashboard(agentId: $a, from: $from,
  to: $to) { agent { name } metrics { interactions feedback { count } } } }"""
TEAM_DASHBOARD = """query($t: ID!, $from: Date, $to: Date) { teamDashboard(teamId: $t, from: $from,
  to: $to) { team { name } metrics { interactions } agents { agent { name }
  metrics { interactions } } } }"""
EXECUTIVE_DASHBOARD = """query($from: Date, $to: Date) { executiveDashboard(from: $from, to: $to)
  { organization { slug } metrics { interactions } teams { team { name }
  metrics { interactions } } } }"""


@by_role
def test_dashboards_of_what_is_in_scope(deployment: Deployment, role: str) -> None:
    ids, days = deployment.ids, deployment.range
    hidden = [ids.agents[rep] for rep in REPS if rep not in SCOPE[role]]
    unknown = expect_same_as_unknown(
        deployment, REP_DASHBOARD, "a", "Agent", hidden, as_=role, **days
    )
    if role in REFUSED["repDashboard"]:
        assert refused(unknown)
    else:
        assert unknown["errors"][0]["extensions"] == {"code": "not_found", "field": "agentId"}
        for rep in SCOPE[role]:
            board = deployment.data(
                REP_DASHBOARD, {"a": gid("Agent", ids.agents[rep]), **days}, as_=role
            )["repDashboard"]
            assert board == {
                "agent": {"name": f"agent_{rep}"},
                "metrics": {"interactions": 4, "feedback": {"count": 1}},
            }
    hidden_teams = [ids.teams[t] for t in TEAM_AGENTS if t not in TEAMS[role]]
    unknown = expect_same_as_unknown(
        deployment, TEAM_DASHBOARD, "t", "Team", hidden_teams, as_=role, **days
    )
    if role in REFUSED["teamDashboard"]:
        assert refused(unknown)
    else:
        assert unknown["errors"][0]["extensions"] == {"code": "not_found", "field": "teamId"}
        for team in TEAMS[role]:
            board = deployment.data(
                TEAM_DASHBOARD, {"t": gid("Team", ids.teams[team]), **days}, as_=role
            )["teamDashboard"]
            assert board["team"] == {"name": team}
            assert board["metrics"]["interactions"] == 4 * len(TEAM_AGENTS[team])
            assert sorted(a["agent"]["name"] for a in board["agents"]) == agent_names(
                TEAM_AGENTS[team]
            )
    executive = answer(deployment, EXECUTIVE_DASHBOARD, days, as_=role)
    if role in REFUSED["executiveDashboard"]:
        assert refused(executive)
    else:
        board = executive["data"]["executiveDashboard"]
        assert board["organization"] == {"slug": ORG[role]}
        assert board["metrics"]["interactions"] == 4 * len(SCOPE[role])
        assert {t["team"]["name"] for t in board["teams"]} == TEAMS[role]


# -- node(id:) --------------------------------------------------------------------------------

NODE = """query($id: ID!) { node(id: $id) { id __typename
  ... on Agent { name } ... on Action { agent { name } } ... on Outcome { status }
  ... on Feedback { rating } ... on Team { name } ... on User { email }
  ... on Organization { slug } } }"""


def visible(deployment: Deployment, role: str) -> dict[str, dict[str, int]]:
    """Per type, the seeded rows `role` may see by `node(id:)` (key: rep, team, user or org)."""
    ids, reps = deployment.ids, SCOPE[role]
    per_agent = {
        "Agent": ids.agents,
        "Action": {rep: ids.actions[rep][-1] for rep in REPS},
        "Outcome": ids.labelling,
        "Feedback": ids.feedback,
    }
    readable = {
        "Agent": True,
        "Action": role not in REFUSED["actions"],
        "Outcome": role not in REFUSED["outcomes"],
        "Feedback": role not in REFUSED["feedback"],
    }
    seen = {
        type_name: {rep: row for rep, row in rows.items() if readable[type_name] and rep in reps}
        for type_name, rows in per_agent.items()
    }
    seen["Team"] = {t: ids.teams[t] for t in TEAMS[role]}
    # People see their organisation's people; API keys see none without `read:users`.
    is_key = role.startswith(("agent_", "partner_"))
    seen["User"] = {} if is_key else {u: ids.users[u] for u in ORG_USERS[ORG[role]]}
    seen["Organization"] = {ORG[role]: ids.orgs[ORG[role]]}
    return seen


def all_rows(deployment: Deployment) -> dict[str, dict[str, int]]:
    ids = deployment.ids
    return {
        "Agent": ids.agents,
        "Action": {rep: ids.actions[rep][-1] for rep in REPS},
        "Outcome": ids.labelling,
        "Feedback": ids.feedback,
        "Team": ids.teams,
        "User": ids.users,
        "Organization": ids.orgs,
    }


@by_role
def test_node_answers_null_for_what_the_role_may_not_read(
    deployment: Deployment, role: str
) -> None:
    seen = visible(deployment, role)
    leaks = []
    for type_name, rows in all_rows(deployment).items():
        unknown = answer(deployment, NODE, {"id": gid(type_name, UNKNOWN)}, as_=role)
        assert unknown == {"data": {"node": None}}
        for key, row in rows.items():
            given = answer(deployment, NODE, {"id": gid(type_name, row)}, as_=role)
            if key in seen[type_name]:
                node = given["data"]["node"]
                assert node is not None and node["__typename"] == type_name, (type_name, key)
                assert node["id"] == gid(type_name, row)
            elif given != unknown:
                leaks.append(f"{type_name}:{row} of {key}")
    assert not leaks, f"{role} reads by node(id:) what it may not read: {', '.join(leaks)}"


# -- malformed ids ----------------------------------------------------------------------------

MALFORMED = {  # the field, and the id argument at fault
    "node": ("query($v: ID!) { node(id: $v) { id } }", "id"),
    "repDashboard": ("query($v: ID!) { repDashboard(agentId: $v) { currency } }", "agentId"),
    "teamDashboard": ("query($v: ID!) { teamDashboard(teamId: $v) { currency } }", "teamId"),
    "calibration": (
        'query($v: ID) { calibration(actionType: "email", agentId: $v) { sampleSize } }',
        "agentId",
    ),
    "policy": ('query($v: ID) { policy(actionType: "email", agentId: $v) { version } }', "agentId"),
    "actions": (
        "query($v: ID) { actions(filter: {agentId: $v}) { totalCount } }",
        "filter.agentId",
    ),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_id_is_answered_with_a_code_and_its_field(
    deployment: Deployment, name: str
) -> None:
    """What a client can act on carries `extensions.code` and the field (docs/api.md), for an
    id that is no global id at all as for any other bad input; `node` may instead answer null,
    as for an unknown id."""
    query, field = MALFORMED[name]
    for value in ("not-a-global-id", "1"):
        response = answer(deployment, query, {"v": value}, as_="exec_n")
        if response == {"data": {"node": None}}:
            continue
        extensions = [e.get("extensions") for e in response.get("errors", [])]
        assert extensions and all(
            e and e.get("code") in ("invalid", "not_found") and e.get("field") == field
            for e in extensions
        ), response
