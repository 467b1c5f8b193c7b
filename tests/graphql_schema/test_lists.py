"""`actions`, `outcomes`, `labelQueue` and `feedback`: keyset pages, filters, scope per role."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import event
from strawberry.relay import GlobalID

from backend.actions.service import ActionInput
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key
from backend.feedback.models import Feedback
from backend.handlers import open_state
from backend.learning import submit_action, submit_signals
from backend.settings import load_settings
from backend.signals.service import SignalInput
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.factories import NOW, TestClock

T = TypeVar("T")
T0 = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
NORTH = ("agent_rep_a1", "agent_rep_a2", "agent_rep_b1")

ACTIONS = """
query($filter: ActionFilter, $first: Int, $after: String) {
  actions(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id actionType occurredAt decision isCritical agent { name } } }
  }
}"""
OUTCOMES = """
query($filter: OutcomeFilter, $first: Int, $after: String) {
  outcomes(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id outcomeType status window openedAt action { id agent { name } } } }
  }
}"""
QUEUE = """
query($first: Int, $after: String) {
  labelQueue(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id status openedAt labelReason action { agent { name } } } }
  }
}"""
FEEDBACK = """
query($filter: FeedbackFilter, $first: Int, $after: String) {
  feedback(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id rating channel prompted targetType author { name } } }
  }
}"""


def run(database_url: str, work: Callable[[AppState], Awaitable[T]]) -> T:
    """Write test data through the real services, on the api fixture's database (and on a
    clock from NOW, like the api fixture's app)."""

    async def go() -> T:
        settings = load_settings(database_url=database_url, worker_in_process=False)
        state = open_state(settings, clock=TestClock())
        try:
            return await work(state)
        finally:
            await state.close()

    return asyncio.run(go())


def agent_gid(api, rep: str) -> str:
    return str(GlobalID("Agent", str(api.world.agents[rep].id)))


def db_id(global_id: str) -> int:
    return int(GlobalID.from_id(global_id).node_id)


async def record(
    state: AppState,
    api,
    rep: str,
    key: str,
    *,
    action_type: str = "email",
    confidence: float = 0.5,
    at: dt.datetime = T0,
) -> Any:
    agent = api.world.agents[rep]
    recorded = await submit_action(
        state,
        Viewer.system(agent.organization_id),
        ActionInput(
            action_type=action_type,
            confidence=confidence,
            idempotency_key=key,
            occurred_at=at,
            agent_id=agent.id,
            message_external_id=f"<{key}@mail>",
        ),
        now=at,
    )
    return recorded


async def reply(
    state: AppState, api, rep: str, key: str, *, at: dt.datetime, sentiment: str | None = None
) -> None:
    """An email.replied; without a sentiment the reply outcome goes to the labelling queue."""
    organization_id = api.world.agents[rep].organization_id
    payload = {"sentiment": sentiment} if sentiment else {}
    await submit_signals(
        state,
        Viewer.system(organization_id),
        [
            SignalInput(
                kind="email.replied",
                source="esp",
                external_id=f"reply-{key}",
                occurred_at=at + HOUR,
                payload=payload,
                message_external_id=f"<{key}@mail>",
            )
        ],
        now=at + 2 * HOUR,
    )


def data_of(result: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in result, result["errors"]
    return result["data"][name]


def error_of(result: dict[str, Any]) -> dict[str, Any]:
    assert result.get("data") is None, result
    return result["errors"][0]["extensions"]


def walk(api, query: str, name: str, *, as_: str, first: int, **variables: Any) -> list[dict]:
    """Every page of a list, following `endCursor`; checks the page flags on the way."""
    nodes: list[dict] = []
    after = None
    while True:
        page = data_of(
            api.query(query, {"first": first, "after": after, **variables}, as_=as_), name
        )
        assert len(page["edges"]) <= first
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        assert len(page["edges"]) == first
        after = page["pageInfo"]["endCursor"]


# -- actions: keyset pages ------------------------------------------------------------------


def test_actions_walk_every_page_without_duplicates_or_gaps(api, database_url) -> None:
    async def seven(state: AppState) -> list[tuple[dt.datetime, int]]:
        keys = []
        for i in range(7):  # pairs share a timestamp, so page edges fall inside ties
            at = T0 + (i // 2) * HOUR
            keys.append((at, (await record(state, api, "rep_a1", f"p{i}", at=at)).action.id))
        return keys

    created = run(database_url, seven)
    expected = created + [(NOW, a.id) for a in api.world.actions["rep_a1"]]
    expected_ids = [i for _, i in sorted(expected, reverse=True)]  # newest first, then by id
    first_page = data_of(api.query(ACTIONS, {"first": 3}, as_="rep_a1"), "actions")
    assert first_page["totalCount"] == 10
    assert first_page["pageInfo"]["hasPreviousPage"] is False
    assert first_page["pageInfo"]["startCursor"] == first_page["edges"][0]["cursor"]
    nodes = walk(api, ACTIONS, "actions", as_="rep_a1", first=3)
    assert [db_id(n["id"]) for n in nodes] == expected_ids
    second = api.query(
        ACTIONS, {"first": 3, "after": first_page["pageInfo"]["endCursor"]}, as_="rep_a1"
    )
    assert data_of(second, "actions")["pageInfo"]["hasPreviousPage"] is True
    assert data_of(second, "actions")["totalCount"] == 10
    # Every edge's cursor (encoded only when selected) resumes right after its edge.
    for index, edge in enumerate(first_page["edges"]):
        after = data_of(
            api.query(ACTIONS, {"first": 2, "after": edge["cursor"]}, as_="rep_a1"), "actions"
        )
        assert [db_id(e["node"]["id"]) for e in after["edges"]] == expected_ids[
            index + 1 : index + 3
        ]


def test_bad_page_arguments_name_their_field(api) -> None:
    for first in (0, -1, 101):
        extensions = error_of(api.query(ACTIONS, {"first": first}, as_="rep_a1"))
        assert (extensions["code"], extensions["field"]) == ("invalid", "first")
    assert len(data_of(api.query(ACTIONS, {"first": 100}, as_="exec_n"), "actions")["edges"]) == 9
    forged = [
        base64.urlsafe_b64encode(json.dumps(v).encode()).decode()
        for v in (
            ["x", 1],
            [NOW.isoformat()],
            [NOW.isoformat(), "1"],
            ["2026-11-02T15:30:00", 1],
            {"a": 1},
        )
    ]
    for after in ("garbage", "", "!!!", *forged):
        for query, name in (
            (ACTIONS, "actions"),
            (OUTCOMES, "outcomes"),
            (FEEDBACK, "feedback"),
            (QUEUE, "labelQueue"),
        ):
            extensions = error_of(api.query(query, {"after": after}, as_="manager_a"))
            assert (extensions["code"], extensions["field"]) == ("invalid", "after"), (name, after)


# -- filters ---------------------------------------------------------------------------------


def test_action_filters(api, database_url) -> None:
    kinds = {
        "email": ("email", 0.5),
        "meeting": ("meeting", 0.45),
        "escalation": ("escalation", 0.1),
        "stage": ("stage_progression", 0.9),
    }

    async def mixed(state: AppState) -> dict[str, Any]:
        made = {}
        for n, (name, (kind, confidence)) in enumerate(kinds.items()):  # one an hour from T0
            made[name] = await record(
                state,
                api,
                "rep_a1",
                f"f-{name}",
                action_type=kind,
                confidence=confidence,
                at=T0 + n * HOUR,
            )
        return made

    made = run(database_url, mixed)
    ids = {name: r.action.id for name, r in made.items()}

    def listed(filter: dict[str, Any], as_: str = "rep_a1") -> set[int]:
        page = data_of(api.query(ACTIONS, {"filter": filter, "first": 100}, as_=as_), "actions")
        assert page["totalCount"] == len(page["edges"])
        return {db_id(e["node"]["id"]) for e in page["edges"]}

    world = {a.id for a in api.world.actions["rep_a1"]}
    assert listed({}) == set(ids.values()) | world
    assert listed({"actionTypes": ["meeting", "escalation"]}) == {ids["meeting"], ids["escalation"]}
    assert listed({"actionTypes": []}) == set()
    assert listed({"critical": True}) == {ids["escalation"], ids["stage"]}
    assert listed({"critical": False}) == {ids["email"], ids["meeting"]} | world
    escalated = {r.action.id for r in made.values() if r.decision.value == "escalate"}
    assert escalated and listed({"decision": "ESCALATE"}) == escalated
    assert listed({"from": (T0 + HOUR).isoformat(), "to": (T0 + 3 * HOUR).isoformat()}) == {
        ids["meeting"],
        ids["escalation"],
    }
    # 10:00+01:00 is T0 itself: `from` is inclusive, and offsets are honoured.
    at_t0 = {"from": "2026-10-01T10:00:00+01:00", "actionTypes": ["email"]}
    assert listed(at_t0) == {ids["email"]} | world
    assert listed({"to": T0.isoformat()}) == set()
    mine = agent_gid(api, "rep_a1")
    assert listed({"agentId": mine, "actionTypes": ["email"]}) == {ids["email"]} | world
    a2 = agent_gid(api, "rep_a2")
    assert listed({"agentId": a2}, as_="manager_a") == {a.id for a in api.world.actions["rep_a2"]}


def test_filter_errors_name_the_filter_field(api) -> None:
    cases = [
        ({"agentId": "garbage"}, "filter.agentId"),
        ({"agentId": str(GlobalID("Action", "1"))}, "filter.agentId"),
        ({"agentId": str(GlobalID("Agent", "abc"))}, "filter.agentId"),
        ({"agentId": str(GlobalID("Agent", str(2**70)))}, "filter.agentId"),
        ({"from": "2026-10-01T09:00:00"}, "filter.from"),
        ({"from": T0.isoformat(), "to": T0.isoformat()}, "filter.to"),
        ({"actionTypes": ["email"] * 51}, "filter.actionTypes"),
    ]
    for filter, field in cases:
        extensions = error_of(api.query(ACTIONS, {"filter": filter}, as_="rep_a1"))
        assert (extensions["code"], extensions["field"]) == ("invalid", field), filter
    bad_ratings = api.query(FEEDBACK, {"filter": {"minRating": 4, "maxRating": 2}}, as_="rep_a1")
    assert error_of(bad_ratings)["field"] == "filter.maxRating"
    bad_types = api.query(OUTCOMES, {"filter": {"outcomeTypes": ["x"] * 51}}, as_="rep_a1")
    assert error_of(bad_types)["field"] == "filter.outcomeTypes"


def test_foreign_out_of_scope_or_unknown_agent_gives_an_empty_page(api) -> None:
    empty = {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }
    unknown = str(GlobalID("Agent", "999999"))
    for viewer, rep in (
        ("rep_a1", "rep_s1"),
        ("rep_a1", "rep_a2"),
        ("manager_a", "rep_b1"),
        ("exec_s", "rep_a1"),
        ("agent_a1", "rep_a2"),
        ("partner_n", "rep_s1"),
    ):
        for agent in (agent_gid(api, rep), unknown):
            result = api.query(ACTIONS, {"filter": {"agentId": agent}}, as_=viewer)
            assert data_of(result, "actions") == empty, (viewer, rep)
        outcomes = api.query(OUTCOMES, {"filter": {"agentId": agent_gid(api, rep)}}, as_=viewer)
        assert data_of(outcomes, "outcomes")["totalCount"] == 0


# -- scope per role --------------------------------------------------------------------------


def seed_everything(api, database_url) -> dict[str, Any]:
    """One email per agent (two outcomes each), a reply without sentiment on the emails of
    rep_a1 (two of them), rep_b1 and rep_s1 (labelling tasks), a clear reply on rep_a2's, and
    one feedback per agent by its rep."""

    async def work(state: AppState) -> dict[str, Any]:
        emails: dict[str, list[int]] = {}
        for n, rep in enumerate(("rep_a1", "rep_a2", "rep_b1", "rep_s1", "rep_a1")):
            at = T0 + n * HOUR
            key = f"s-{rep}-{n}"
            emails.setdefault(rep, []).append((await record(state, api, rep, key, at=at)).action.id)
            await reply(
                state, api, rep, key, at=at, sentiment="positive" if rep == "rep_a2" else None
            )
        async with transaction(state.sessions) as session:
            for n, (rep, actions) in enumerate(api.world.actions.items()):
                agent = api.world.agents[rep]
                session.add(
                    Feedback(
                        organization_id=agent.organization_id,
                        agent_id=agent.id,
                        target_type="action",
                        action_id=actions[0].id,
                        rating=1 + n,
                        channel="slack" if n % 2 else "dashboard",
                        prompted=bool(n % 2),
                        author_id=api.world.users[rep].id,
                        created_at=T0 + n * HOUR,
                    )
                )
            north = Viewer.system(api.world.orgs["north"].id)
            narrow = await create_api_key(
                session,
                viewer=north,
                kind=ApiClientKind.PARTNER,
                name="narrow",
                scopes=["read:analytics"],
            )
            api.tokens["partner_narrow"] = narrow.key
        return emails

    return run(database_url, work)


SCOPES = {
    "rep_a1": {"agent_rep_a1"},
    "manager_a": {"agent_rep_a1", "agent_rep_a2"},
    "exec_n": set(NORTH),
    "exec_s": {"agent_rep_s1"},
    "rep_s1": {"agent_rep_s1"},
    "agent_a1": {"agent_rep_a1"},
    "partner_n": set(NORTH),
}


def test_each_role_sees_exactly_its_scope(api, database_url) -> None:
    emails = seed_everything(api, database_url)
    per_agent = {rep: 3 + len(ids) for rep, ids in emails.items()}  # world actions + emails
    for viewer, agents in SCOPES.items():
        actions = data_of(api.query(ACTIONS, {"first": 100}, as_=viewer), "actions")
        assert {e["node"]["agent"]["name"] for e in actions["edges"]} == agents, viewer
        assert actions["totalCount"] == sum(per_agent[a.removeprefix("agent_")] for a in agents)
        outcomes = data_of(api.query(OUTCOMES, {"first": 100}, as_=viewer), "outcomes")
        names = {e["node"]["action"]["agent"]["name"] for e in outcomes["edges"]}
        assert names == agents, viewer
        assert outcomes["totalCount"] == 2 * sum(
            len(emails[a.removeprefix("agent_")]) for a in agents
        )
    for viewer, agents in SCOPES.items():
        if viewer == "agent_a1":
            continue  # agent keys read no feedback (below)
        page = data_of(api.query(FEEDBACK, {"first": 100}, as_=viewer), "feedback")
        assert {e["node"]["author"]["name"] for e in page["edges"]} == {
            a.removeprefix("agent_") for a in agents
        }, viewer


def test_api_keys_need_their_read_scope(api, database_url) -> None:
    seed_everything(api, database_url)
    for query in (ACTIONS, OUTCOMES, FEEDBACK):
        assert error_of(api.query(query, {}, as_="partner_narrow"))["code"] == "forbidden"
    assert error_of(api.query(FEEDBACK, {}, as_="agent_a1"))["code"] == "forbidden"


def test_outcome_and_feedback_filters(api, database_url) -> None:
    emails = seed_everything(api, database_url)

    def outcome_ids(filter: dict[str, Any], as_: str = "exec_n") -> list[dict]:
        page = data_of(api.query(OUTCOMES, {"filter": filter, "first": 100}, as_=as_), "outcomes")
        assert page["totalCount"] == len(page["edges"])
        return [e["node"] for e in page["edges"]]

    labelling = outcome_ids({"statuses": ["NEEDS_LABEL"]})
    assert {n["outcomeType"] for n in labelling} == {"email_reply"} and len(labelling) == 3
    assert len(outcome_ids({"statuses": ["NEEDS_LABEL", "RESOLVED"]})) == 8
    assert {n["outcomeType"] for n in outcome_ids({"outcomeTypes": ["email_delivery"]})} == {
        "email_delivery"
    }
    assert len(outcome_ids({"actionType": "email", "window": "IMMEDIATE_24H"})) == 4
    assert outcome_ids({"actionType": "meeting"}) == []
    later = outcome_ids({"from": (T0 + 2 * HOUR).isoformat(), "to": (T0 + 5 * HOUR).isoformat()})
    assert {db_id(n["action"]["id"]) for n in later} == {emails["rep_b1"][0], emails["rep_a1"][1]}
    mine = outcome_ids({"agentId": agent_gid(api, "rep_a1")}, as_="manager_a")
    assert {db_id(n["action"]["id"]) for n in mine} == set(emails["rep_a1"])

    def ratings(filter: dict[str, Any]) -> list[int]:
        page = data_of(
            api.query(FEEDBACK, {"filter": filter, "first": 100}, as_="exec_n"), "feedback"
        )
        return [e["node"]["rating"] for e in page["edges"]]

    assert ratings({}) == [3, 2, 1]  # newest first
    assert ratings({"minRating": 2, "maxRating": 2}) == [2]
    assert ratings({"channel": "SLACK"}) == [2] and ratings({"prompted": False}) == [3, 1]
    assert ratings({"targetType": "MESSAGE"}) == []
    assert ratings({"agentId": agent_gid(api, "rep_b1")}) == [3]
    assert ratings({"from": (T0 + HOUR).isoformat()}) == [3, 2]


# -- labelling queue -------------------------------------------------------------------------


def test_label_queue_is_oldest_first_and_in_scope_for_people_only(api, database_url) -> None:
    emails = seed_everything(api, database_url)

    def queue(as_: str) -> list[dict]:
        return walk(api, QUEUE, "labelQueue", as_=as_, first=1)

    mine = queue("rep_a1")
    assert [db_id(n["id"]) for n in mine] == sorted(db_id(n["id"]) for n in mine)
    assert [n["openedAt"] for n in mine] == sorted(n["openedAt"] for n in mine) and len(mine) == 2
    assert all(n["status"] == "NEEDS_LABEL" and "sentiment" in n["labelReason"] for n in mine)
    expected = {
        "rep_a1": 2,
        "manager_a": 2,
        "exec_n": 3,
        "exec_s": 1,
        "rep_s1": 1,
        "rep_a2": 0,
        "rep_b1": 1,
    }
    for viewer, count in expected.items():
        page = data_of(api.query(QUEUE, {"first": 100}, as_=viewer), "labelQueue")
        assert page["totalCount"] == len(page["edges"]) == count, viewer
        reps = {e["node"]["action"]["agent"]["name"] for e in page["edges"]}
        assert reps <= SCOPES.get(viewer, {f"agent_{viewer}"}), viewer
    assert emails["rep_a2"]  # its reply was clear: resolved, not queued
    for key in ("agent_a1", "partner_n"):
        assert error_of(api.query(QUEUE, {}, as_=key))["code"] == "forbidden"


SCOPED_QUEUE = """query($agent: ID, $team: ID) { labelQueue(agentId: $agent, teamId: $team,
  first: 100) { totalCount edges { node { id action { agent { name } } } } } }"""


def team_gid(api, team: str) -> str:
    return str(GlobalID("Team", str(api.world.teams[team].id)))


def test_label_queue_narrows_to_an_agent_or_a_team_in_scope(api, database_url) -> None:
    seed_everything(api, database_url)

    def agents(as_: str, **variables: str) -> list[str]:
        page = data_of(api.query(SCOPED_QUEUE, variables, as_=as_), "labelQueue")
        assert page["totalCount"] == len(page["edges"]), page
        return sorted(e["node"]["action"]["agent"]["name"] for e in page["edges"])

    # rep_a1's agent has two tasks, rep_b1's one, rep_a2's none (its reply was clear).
    assert agents("exec_n") == ["agent_rep_a1", "agent_rep_a1", "agent_rep_b1"]
    assert agents("exec_n", team=team_gid(api, "alpha")) == ["agent_rep_a1", "agent_rep_a1"]
    assert agents("exec_n", team=team_gid(api, "beta")) == ["agent_rep_b1"]
    assert agents("exec_n", agent=agent_gid(api, "rep_b1")) == ["agent_rep_b1"]
    assert agents("manager_a", agent=agent_gid(api, "rep_a2")) == []
    assert agents("manager_a", team=team_gid(api, "alpha")) == ["agent_rep_a1", "agent_rep_a1"]
    assert agents("rep_a1", agent=agent_gid(api, "rep_a1")) == ["agent_rep_a1", "agent_rep_a1"]


def test_label_queue_agent_or_team_out_of_scope_is_unknown(api, database_url) -> None:
    seed_everything(api, database_url)
    unknown = str(GlobalID("Team", "999999"))
    cases = [
        ("manager_a", {"team": team_gid(api, "beta")}, "not_found", "teamId"),
        ("manager_a", {"agent": agent_gid(api, "rep_b1")}, "not_found", "agentId"),
        ("rep_a1", {"agent": agent_gid(api, "rep_a2")}, "not_found", "agentId"),
        ("rep_a1", {"team": team_gid(api, "beta")}, "not_found", "teamId"),
        ("exec_s", {"team": team_gid(api, "alpha")}, "not_found", "teamId"),
        ("exec_s", {"agent": agent_gid(api, "rep_a1")}, "not_found", "agentId"),
        ("exec_n", {"team": unknown}, "not_found", "teamId"),
        ("exec_n", {"agent": "garbage"}, "invalid", "agentId"),
        (
            "exec_n",
            {"agent": agent_gid(api, "rep_a1"), "team": team_gid(api, "alpha")},
            "invalid",
            "teamId",
        ),
    ]
    for who, variables, code, field in cases:
        extensions = error_of(api.query(SCOPED_QUEUE, variables, as_=who))
        assert (extensions["code"], extensions["field"]) == (code, field), (who, variables)
    # A foreign team answers exactly as an unknown one does.
    foreign = api.query(SCOPED_QUEUE, {"team": team_gid(api, "alpha")}, as_="exec_s")
    missing = api.query(SCOPED_QUEUE, {"team": unknown}, as_="exec_s")
    for key in ("message", "extensions"):
        assert foreign["errors"][0][key] == missing["errors"][0][key], key


# -- efficiency ------------------------------------------------------------------------------


def test_statements_per_list_do_not_grow_with_rows(api, database_url) -> None:
    engine = api.client.app.state.app.engine.sync_engine
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    query = """{ actions(first: 100) { totalCount edges { node { agent { name }
                 outcomes { status action { id } } } } } }"""
    run(database_url, lambda state: record(state, api, "rep_a1", "first-email"))
    event.listen(engine, "before_cursor_execute", count)
    try:
        small = data_of(api.query(query, as_="exec_n"), "actions")
        few_rows = list(statements)
        seed_everything(api, database_url)
        statements.clear()
        large = data_of(api.query(query, as_="exec_n"), "actions")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert large["totalCount"] > small["totalCount"] + 3
    # count, page, then one statement per relation (agents, outcomes, their actions), plus
    # what authenticating the request costs: the same whatever the number of rows
    assert len(statements) == len(few_rows), statements
    pages = [s for s in statements if "agent_actions" in s and "count(" in s.lower()]
    assert len(pages) == 1
