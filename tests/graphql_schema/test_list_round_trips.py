"""The `actions` list reads only what the query selects: no COUNT unless `totalCount` is asked,
the page and its actions' outcomes in one statement on PostgreSQL (two elsewhere), and the same
answers as the per-relation loaders give. Authenticating a person's token is one statement."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key
from backend.orgs.models import User
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.graphql_schema.test_lists import (
    HOUR,
    T0,
    agent_gid,
    data_of,
    db_id,
    record,
    reply,
    run,
)
from tests.graphql_schema.test_no_n_plus_one import issued

OUTCOME_FIELDS = """id outcomeType window scale level value status detection labelReason
  evidence openedAt dueAt resolvedAt levelLabel scaleLevels"""
PAGE = f"""query($filter: ActionFilter, $first: Int, $after: String) {{
  actions(filter: $filter, first: $first, after: $after) {{
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ cursor node {{ id actionType confidence occurredAt decision
      outcomes {{ {OUTCOME_FIELDS} }} }} }}
  }}
}}"""
COUNTED = PAGE.replace("pageInfo {", "totalCount pageInfo {", 1)
# The same total through a named fragment, and the outcomes through an inline one.
FRAGMENTS = f"""query($filter: ActionFilter, $first: Int, $after: String) {{
  actions(filter: $filter, first: $first, after: $after) {{
    ...Counted
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ cursor node {{ id actionType confidence occurredAt decision
      ... on Action {{ outcomes {{ {OUTCOME_FIELDS} }} }} }} }}
  }}
}}
fragment Counted on ActionConnection {{ totalCount }}"""
# Each outcome's action, whose outcomes then come through the loader (one statement for all).
BY_LOADER = f"""query($filter: OutcomeFilter) {{
  outcomes(filter: $filter, first: 100) {{
    edges {{ node {{ action {{ id outcomes {{ {OUTCOME_FIELDS} }} }} }} }}
  }}
}}"""


def list_statements(api: Any, query: str, variables: dict[str, Any], as_: str) -> tuple[list, Any]:
    """The statements of the list itself: those of the request minus those that authenticating
    the same credential costs (whatever the view does to authenticate, it does it for both)."""
    baseline, _ = issued(api, "{ __typename }", {}, as_)
    seen, result = issued(api, query, variables, as_)
    assert "errors" not in result, result["errors"]
    assert seen[: len(baseline)] == baseline, (seen, baseline)
    return seen[len(baseline) :], result["data"]["actions"]


def counts(listed: list[str]) -> list[str]:
    return [s for s in listed if "count(" in s.lower()]


def seed(api: Any, database_url: str) -> list[int]:
    """Five e-mails of rep_a1 an hour apart (two outcomes each), three of them replied to:
    one resolved (positive), two waiting for a label; plus the world's three actions."""

    async def work(state: AppState) -> list[int]:
        ids = []
        for n in range(5):
            at = T0 + n * HOUR
            ids.append((await record(state, api, "rep_a1", f"rt-{n}", at=at)).action.id)
            if n % 2 == 0:
                sentiment = "positive" if n == 0 else None
                await reply(state, api, "rep_a1", f"rt-{n}", at=at, sentiment=sentiment)
        return ids

    return run(database_url, work)


def test_no_count_unless_total_count_is_asked(api, database_url) -> None:
    seed(api, database_url)
    variables = {"filter": {"agentId": agent_gid(api, "rep_a1")}, "first": 3}
    listed, page = list_statements(api, PAGE, variables, "rep_a1")
    assert counts(listed) == [] and "totalCount" not in page
    postgresql = database_url.startswith("postgresql")
    # PostgreSQL: the page with its outcomes in one statement; SQLite: the page, its outcomes.
    assert len(listed) == (1 if postgresql else 2), listed
    assert "agent_actions" in listed[0] and "outcomes" in listed[-1]
    counted, with_total = list_statements(api, COUNTED, variables, "rep_a1")
    assert len(counted) == len(listed) + 1 and len(counts(counted)) == 1, counted
    assert with_total["totalCount"] == 8
    assert {k: v for k, v in with_total.items() if k != "totalCount"} == page
    fragments, through_fragments = list_statements(api, FRAGMENTS, variables, "rep_a1")
    assert len(fragments) == len(counted) and through_fragments == with_total
    without_outcomes = PAGE.replace(f"outcomes {{ {OUTCOME_FIELDS} }}", "")
    bare, _ = list_statements(api, without_outcomes, variables, "rep_a1")
    assert len(bare) == 1 and counts(bare) == [] and "outcomes" not in bare[0], bare


def test_outcomes_read_with_the_page_equal_the_loaders(api, database_url) -> None:
    ids = seed(api, database_url)
    mine = {"agentId": agent_gid(api, "rep_a1")}
    nodes = []
    after = None
    while True:  # pages of 2: the keyset cursors and flags hold on this path too
        page = data_of(
            api.query(PAGE, {"filter": mine, "first": 2, "after": after}, as_="rep_a1"), "actions"
        )
        nodes += [e["node"] for e in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    world = [a.id for a in api.world.actions["rep_a1"]]
    assert [db_id(n["id"]) for n in nodes] == sorted(world, reverse=True) + ids[::-1]
    with_outcomes = {db_id(n["id"]): n["outcomes"] for n in nodes if n["outcomes"]}
    assert set(with_outcomes) == set(ids)
    by_loader = data_of(api.query(BY_LOADER, {"filter": mine}, as_="rep_a1"), "outcomes")
    loaded = {
        db_id(e["node"]["action"]["id"]): e["node"]["action"]["outcomes"]
        for e in by_loader["edges"]
    }
    assert loaded == with_outcomes  # every field, timestamps and evidence included
    statuses = sorted(o["status"] for outcomes in loaded.values() for o in outcomes)
    assert statuses.count("RESOLVED") >= 1 and statuses.count("NEEDS_LABEL") == 2
    resolved = next(
        o
        for os in loaded.values()
        for o in os
        if o["status"] == "RESOLVED" and o["outcomeType"] == "email_reply"
    )
    assert resolved["value"] == 1.0 and resolved["resolvedAt"] is not None


def test_outcomes_follow_the_read_scope_and_the_viewer(api, database_url) -> None:
    ids = seed(api, database_url)

    async def keys(state: AppState) -> None:
        async with transaction(state.sessions) as session:
            north = Viewer.system(api.world.orgs["north"].id)
            only_actions = await create_api_key(
                session,
                viewer=north,
                kind=ApiClientKind.PARTNER,
                name="actions only",
                scopes=["read:actions"],
            )
            api.tokens["partner_actions"] = only_actions.key

    run(database_url, keys)
    mine = {"filter": {"agentId": agent_gid(api, "rep_a1")}, "first": 100}
    page = data_of(api.query(PAGE, mine, as_="partner_actions"), "actions")
    assert {db_id(e["node"]["id"]) for e in page["edges"]} >= set(ids)
    assert all(e["node"]["outcomes"] == [] for e in page["edges"])  # no read:outcomes
    full = data_of(api.query(PAGE, mine, as_="partner_n"), "actions")
    assert sum(len(e["node"]["outcomes"]) for e in full["edges"]) == 2 * len(ids)
    for viewer in ("rep_s1", "exec_s", "rep_a2"):  # another organisation, or out of scope
        foreign = data_of(api.query(COUNTED, mine, as_=viewer), "actions")
        assert foreign["edges"] == [] and foreign["totalCount"] == 0, viewer


def test_a_user_token_is_authenticated_in_one_statement(api, database_url) -> None:
    """A person's viewer (role, teams, agents) is one read, outside any transaction; an API key
    also records its use."""
    for person in ("rep_a1", "manager_a", "exec_n"):
        seen, result = issued(api, "{ __typename }", {}, person)
        assert "errors" not in result and len(seen) == 1, (person, seen)
        assert "users" in seen[0] and "update" not in seen[0].lower()
    seen, _ = issued(api, "{ __typename }", {}, "partner_n")
    assert any(s.lower().startswith("update api_clients") for s in seen), seen


def test_the_viewer_of_a_token_is_its_users_scope_now(api, database_url) -> None:
    """Each request reads the user afresh: a deactivated user's token is refused at once, and
    a rep's agents are theirs."""
    query = "{ viewer { role agents { id } } }"
    mine = data_of(api.query(query, as_="rep_a1"), "viewer")
    assert mine["role"] == "REP"
    assert [db_id(a["id"]) for a in mine["agents"]] == [api.world.agents["rep_a1"].id]
    managed = data_of(api.query(query, as_="manager_a"), "viewer")["agents"]
    assert {db_id(a["id"]) for a in managed} >= {
        api.world.agents["rep_a1"].id,
        api.world.agents["rep_a2"].id,
    }

    async def deactivate(state: AppState) -> None:
        async with transaction(state.sessions) as session:
            await session.execute(
                update(User).where(User.id == api.world.users["rep_a1"].id).values(active=False)
            )

    run(database_url, deactivate)
    refused = api.query(query, as_="rep_a1")
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "unauthenticated", refused
