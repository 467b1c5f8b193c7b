"""Administration over GraphQL: each mutation's happy path, its refusals by field, scope (a
foreign id is unknown, anyone but an administrator is forbidden), the audit trail, a rotated
key working and its predecessor refused, and a person deactivated refused at their next request
with their live subscription ended at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from strawberry import relay

from backend.auth.tokens import issue_user_token
from backend.orgs.models import User
from backend.unit_of_work import transaction
from tests.graphql_schema.test_live_sessions import ended_unauthenticated
from tests.graphql_schema.test_subscriptions import (
    NEEDS_LABEL,
    connect,
    on_app_loop,
    state_of,
    wait_for_subscribers,
)

CREATE_TEAM = "mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id name } "
CREATE_TEAM += "errors { code field message } } }"
INVITE = (
    "mutation($i: InviteUserInput!) { inviteUser(input: $i) { user { id email role "
    "team { name } } invitationSent errors { code field message } } }"
)
DEACTIVATE_USER = (
    "mutation($i: DeactivateUserInput!) { deactivateUser(input: $i) { user { id email } "
    "errors { code field message } } }"
)
CREATE_AGENT = (
    "mutation($i: CreateAgentInput!) { createAgent(input: $i) { agent { id name active "
    "owner { email } team { name } } errors { code field message } } }"
)
DEACTIVATE_AGENT = (
    "mutation($i: DeactivateAgentInput!) { deactivateAgent(input: $i) { agent { id active } "
    "revokedApiKeys { id name } errors { code field message } } }"
)
KEY_FIELDS = "id name kind prefix scopes agentId createdAt lastUsedAt revokedAt"
CREATE_KEY = (
    f"mutation($i: CreateApiKeyInput!) {{ createApiKey(input: $i) {{ apiKey {{ {KEY_FIELDS} }} "
    "secret errors { code field message } } }"
)
ROTATE_KEY = (
    "mutation($i: ApiKeyInput!) { rotateApiKey(input: $i) { apiKey { id name scopes } secret "
    "revokedApiKey { id revokedAt } errors { code field message } } }"
)
REVOKE_KEY = (
    "mutation($i: ApiKeyInput!) { revokeApiKey(input: $i) { apiKey { id revokedAt } "
    "errors { code field message } } }"
)
API_KEYS = f"{{ apiKeys {{ {KEY_FIELDS} }} }}"
AUDIT = "{ adminAuditTrail { change actorUserId targetId details } }"


def gid(type_name: str, row_id: int) -> str:
    return str(relay.GlobalID(type_name, str(row_id)))


@pytest.fixture
def admin(api) -> Any:
    """An administrator of north, with a bearer token as `admin_n`."""
    north = api.world.orgs["north"].id

    async def add() -> int:
        async with transaction(state_of(api).sessions) as session:
            user = User(
                organization_id=north, email="admin@north.example", name="Ada", role="admin"
            )
            session.add(user)
            await session.flush()
            return user.id

    admin_id = on_app_loop(api, add)
    api.tokens["admin_n"] = issue_user_token(
        user_id=admin_id,
        organization_id=north,
        secret_key=state_of(api).settings.secret_key,
        ttl=dt.timedelta(hours=1),
    )
    return api


def run(api, mutation: str, given: dict[str, Any], *, as_: str = "admin_n") -> dict[str, Any]:
    answer = api.query(mutation, {"i": given}, as_=as_)
    assert "errors" not in answer, answer
    [payload] = answer["data"].values()
    return payload


def errors(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"].lower(), e["field"]) for e in payload["errors"]]


def test_teams_people_and_agents_created_and_audited(admin) -> None:
    api = admin
    team = run(api, CREATE_TEAM, {"name": "Delta"})
    assert errors(team) == [] and team["team"]["name"] == "Delta"
    invited = run(
        api,
        INVITE,
        {
            "email": "Nora@North.example",
            "name": "Nora",
            "role": "REP",
            "teamId": team["team"]["id"],
        },
    )
    assert errors(invited) == []
    assert invited["user"]["email"] == "nora@north.example"
    assert invited["user"]["team"] == {"name": "Delta"}
    assert invited["invitationSent"] is False  # no SMTP server in this configuration
    agent = run(
        api,
        CREATE_AGENT,
        {"name": "agent_nora", "ownerId": invited["user"]["id"], "teamId": team["team"]["id"]},
    )
    assert errors(agent) == []
    assert agent["agent"] | {"id": None} == {
        "id": None,
        "name": "agent_nora",
        "active": True,
        "owner": {"email": "nora@north.example"},
        "team": {"name": "Delta"},
    }
    gone = run(api, DEACTIVATE_AGENT, {"agentId": agent["agent"]["id"]})
    assert gone["agent"]["active"] is False and gone["revokedApiKeys"] == []
    trail = api.query(AUDIT, as_="admin_n")["data"]["adminAuditTrail"]
    assert [(e["change"], e["targetId"]) for e in trail] == [
        ("agent.deactivated", agent["agent"]["id"]),
        ("agent.created", agent["agent"]["id"]),
        ("user.invited", invited["user"]["id"]),
        ("team.created", team["team"]["id"]),
    ]
    assert {e["actorUserId"] for e in trail} == {gid("User", _admin_id(api))}
    assert trail[2]["details"]["role"] == "rep"


def _admin_id(api) -> int:
    return int(
        relay.GlobalID.from_id(
            api.query("{ viewer { user { id } } }", as_="admin_n")["data"]["viewer"]["user"]["id"]
        ).node_id
    )


def test_refusals_name_their_field(admin) -> None:
    api = admin
    alpha = gid("Team", api.world.teams["alpha"].id)
    gamma = gid("Team", api.world.teams["gamma"].id)  # south's
    assert errors(run(api, CREATE_TEAM, {"name": "  "})) == [("required", "name")]
    assert errors(run(api, CREATE_TEAM, {"name": "ALPHA"})) == [("conflict", "name")]
    invite = {"email": "x@north.example", "name": "X", "role": "REP", "teamId": alpha}
    for change, expected in (
        ({"email": "nobody"}, ("invalid", "email")),
        ({"email": "rep_a1@north.example"}, ("conflict", "email")),
        ({"teamId": gamma}, ("not_found", "teamId")),
        ({"teamId": None}, ("required", "teamId")),
        ({"teamId": "not a global id"}, ("invalid", "teamId")),
        ({"teamId": gid("Agent", 1)}, ("not_found", "teamId")),
    ):
        assert errors(run(api, INVITE, invite | change)) == [expected], change
    agent = {"name": "a", "ownerId": gid("User", api.world.users["rep_s1"].id), "teamId": alpha}
    assert errors(run(api, CREATE_AGENT, agent)) == [("not_found", "ownerId")]
    assert errors(run(api, CREATE_AGENT, agent | {"ownerId": _rep("rep_a1", api), "name": ""})) == [
        ("required", "name")
    ]
    assert errors(run(api, CREATE_KEY, {"name": "k", "kind": "AGENT"})) == [("required", "agentId")]
    assert errors(
        run(api, CREATE_KEY, {"name": "k", "kind": "PARTNER", "scopes": ["write:everything"]})
    ) == [("invalid", "scopes")]
    foreign = {"agentId": gid("Agent", api.world.agents["rep_s1"].id)}
    assert errors(run(api, CREATE_KEY, {"name": "k", "kind": "AGENT"} | foreign)) == [
        ("not_found", "agentId")
    ]
    assert api.query(AUDIT, as_="admin_n")["data"]["adminAuditTrail"] == []


def _rep(key: str, api) -> str:
    return gid("User", api.world.users[key].id)


def test_foreign_ids_are_unknown_and_only_administrators_may(admin) -> None:
    api = admin
    south_rep = {"userId": _rep("rep_s1", api)}
    assert errors(run(api, DEACTIVATE_USER, south_rep)) == [("not_found", "userId")]
    south_agent = {"agentId": gid("Agent", api.world.agents["rep_s1"].id)}
    assert errors(run(api, DEACTIVATE_AGENT, south_agent)) == [("not_found", "agentId")]
    south_key = {"id": gid("ApiKey", 10**9)}
    assert errors(run(api, ROTATE_KEY, south_key)) == [("not_found", "id")]
    assert errors(run(api, REVOKE_KEY, south_key)) == [("not_found", "id")]
    for who in ("exec_n", "manager_a", "rep_a1", "partner_n", "agent_a1"):
        assert errors(run(api, CREATE_TEAM, {"name": "Z"}, as_=who)) == [("forbidden", None)]
        deactivate = {"userId": _rep("rep_a2", api)}
        assert errors(run(api, DEACTIVATE_USER, deactivate, as_=who)) == [("forbidden", None)]
        refused = api.query(API_KEYS, as_=who)
        assert refused["errors"][0]["extensions"]["code"] == "forbidden"
    assert api.query(AUDIT, as_="exec_n")["errors"][0]["extensions"]["code"] == "forbidden"


def test_keys_listed_rotated_and_revoked(admin) -> None:
    api = admin
    created = run(api, CREATE_KEY, {"name": "crm sync", "kind": "PARTNER"})
    assert errors(created) == [] and created["secret"].startswith("sal_")
    api.tokens["crm"] = created["secret"]
    assert api.query("{ agents { name } }", as_="crm")["data"]["agents"]
    listed = api.query(API_KEYS, as_="admin_n")["data"]["apiKeys"]
    assert [k["name"] for k in listed] == ["crm sync", "p", "a1"]  # newest first
    crm = listed[0]
    assert crm["kind"] == "PARTNER" and crm["lastUsedAt"] is not None
    assert crm["revokedAt"] is None and "secret" not in crm
    assert created["secret"] not in str(listed)

    rotated = run(api, ROTATE_KEY, {"id": crm["id"]})
    assert errors(rotated) == []
    assert rotated["apiKey"]["name"] == "crm sync" and rotated["apiKey"]["id"] != crm["id"]
    assert rotated["revokedApiKey"]["id"] == crm["id"] and rotated["revokedApiKey"]["revokedAt"]
    api.tokens["crm_new"] = rotated["secret"]
    assert api.query("{ agents { name } }", as_="crm_new")["data"]["agents"]
    old = api.query("{ agents { name } }", as_="crm")
    assert old["errors"][0]["extensions"]["code"] == "unauthenticated"
    assert errors(run(api, ROTATE_KEY, {"id": crm["id"]})) == [("invalid", "id")]

    revoked = run(api, REVOKE_KEY, {"id": rotated["apiKey"]["id"]})
    assert revoked["apiKey"]["revokedAt"] is not None
    again = run(api, REVOKE_KEY, {"id": rotated["apiKey"]["id"]})  # changes nothing
    assert again["apiKey"]["revokedAt"] == revoked["apiKey"]["revokedAt"]
    refused = api.query("{ agents { name } }", as_="crm_new")
    assert refused["errors"][0]["extensions"]["code"] == "unauthenticated"
    trail = api.query(AUDIT, as_="admin_n")["data"]["adminAuditTrail"]
    assert [e["change"] for e in trail] == ["api_key.revoked", "api_key.rotated", "api_key.created"]
    assert trail[1]["details"]["replacedBy"] == int(
        relay.GlobalID.from_id(rotated["apiKey"]["id"]).node_id
    )


def test_a_deactivated_person_is_refused_and_their_subscription_ends(admin) -> None:
    api = admin
    with connect(api, "rep_a2") as deactivated, connect(api, "manager_a") as manager:
        for live in (deactivated, manager):
            live.subscribe(NEEDS_LABEL)
        wait_for_subscribers(api, "outcome.needs_label", 2)
        done = run(api, DEACTIVATE_USER, {"userId": _rep("rep_a2", api)})
        assert errors(done) == [] and done["user"]["email"] == "rep_a2@north.example"
        ended_unauthenticated(deactivated, "invalid or expired token")
        wait_for_subscribers(api, "outcome.needs_label", 1)  # the manager goes on
    refused = api.query("{ viewer { user { email } } }", as_="rep_a2")
    assert refused["errors"][0]["extensions"]["code"] == "unauthenticated"
    assert api.query("{ viewer { user { email } } }", as_="rep_a1")["data"]["viewer"]["user"]
    again = run(api, DEACTIVATE_USER, {"userId": _rep("rep_a2", api)})
    assert errors(again) == []
    trail = api.query(AUDIT, as_="admin_n")["data"]["adminAuditTrail"]
    assert [(e["change"], e["targetId"]) for e in trail] == [
        ("user.deactivated", _rep("rep_a2", api))
    ]
    me = {"userId": gid("User", _admin_id(api))}
    assert errors(run(api, DEACTIVATE_USER, me)) == [("invalid", "userId")]
