"""`viewer` and `node(id:)`: who is asking, and foreign ids that behave as unknown."""

from __future__ import annotations

from strawberry.relay import GlobalID

VIEWER = (
    "{ viewer { role seesWholeOrganization organization { slug } user { email } agents { name } } }"
)


def test_viewer_per_role(api) -> None:
    rep = api.query(VIEWER, as_="rep_a1")["data"]["viewer"]
    assert rep["role"] == "REP" and [a["name"] for a in rep["agents"]] == ["agent_rep_a1"]
    manager = api.query(VIEWER, as_="manager_a")["data"]["viewer"]
    assert sorted(a["name"] for a in manager["agents"]) == ["agent_rep_a1", "agent_rep_a2"]
    boss = api.query(VIEWER, as_="exec_n")["data"]["viewer"]
    assert boss["seesWholeOrganization"] and len(boss["agents"]) == 3
    assert boss["organization"]["slug"] == "north"
    partner = api.query(VIEWER, as_="partner_n")["data"]["viewer"]
    assert partner["role"] == "PARTNER" and partner["user"] is None


def test_unauthenticated_and_bad_tokens(api) -> None:
    anonymous = api.query("{ viewer { role } }", as_=None)
    assert anonymous["errors"][0]["extensions"]["code"] == "unauthenticated"
    forged = api.client.post(
        "/graphql",
        json={"query": "{ viewer { role } }"},
        headers={"Authorization": f"Bearer {api.tokens['rep_a1'][:-4]}abcd"},
    )
    # A credential presented and refused: 401 (RFC 6750), with the coded GraphQL error.
    assert forged.status_code == 401
    assert forged.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert forged.json()["errors"][0]["extensions"]["code"] == "unauthenticated"


def test_node_of_foreign_or_out_of_scope_id_is_null(api) -> None:
    query = "query($id: ID!) { node(id: $id) { id ... on Agent { name } } }"
    mine = str(GlobalID("Agent", str(api.world.agents["rep_a1"].id)))
    other_rep = str(GlobalID("Agent", str(api.world.agents["rep_a2"].id)))
    foreign = str(GlobalID("Agent", str(api.world.agents["rep_s1"].id)))
    unknown = str(GlobalID("Agent", "999999"))
    assert api.query(query, {"id": mine}, as_="rep_a1")["data"]["node"]["name"] == "agent_rep_a1"
    for other in (other_rep, foreign, unknown):
        answer = api.query(query, {"id": other}, as_="rep_a1")
        assert answer["data"] == {"node": None} and "errors" not in answer
