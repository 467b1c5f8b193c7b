"""No N+1: the SQL statements a dashboard query issues do not grow with its agents, teams or
rows, including nested relations (agent { owner team }) resolved through the loaders."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event
from strawberry.relay import GlobalID

from backend.actions.service import ActionInput
from backend.agents.models import Agent
from backend.auth.service import viewer_for_user
from backend.feedback.service import FeedbackInput
from backend.learning import submit_action, submit_rating, submit_signals
from backend.orgs.models import Team, User
from backend.signals.service import SignalInput
from backend.unit_of_work import transaction
from backend.viewer import Viewer

RANGE = {"from": "2026-10-01", "to": "2026-11-20"}
METRICS = """interactions escalations { count } responses { replies { rate } }
  dealImpact { won } feedback { count meanScore } calibration { actionType brier verdict }
  cost { total { total { amount } } } roi { roi hoursSaved }"""
TEAM = f"""query($team: ID!, $from: Date, $to: Date) {{
  teamDashboard(teamId: $team, from: $from, to: $to) {{
    team {{ name }} metrics {{ {METRICS} }}
    agents {{ agent {{ name owner {{ name team {{ name }} }} team {{ name }} }}
              metrics {{ {METRICS} }} }}
    daily {{ day actions }} }} }}"""
EXECUTIVE = f"""query($from: Date, $to: Date) {{
  executiveDashboard(from: $from, to: $to) {{
    organization {{ slug }} metrics {{ {METRICS} }}
    teams {{ team {{ name }} metrics {{ {METRICS} }} }}
    weekly {{ day actions }} }} }}"""
REP = f"""query($agent: ID!, $from: Date, $to: Date) {{
  repDashboard(agentId: $agent, from: $from, to: $to) {{
    agent {{ name owner {{ name }} team {{ name }} }}
    metrics {{ {METRICS} }} daily {{ day }} }} }}"""


def issued(api: Any, query: str, variables: dict[str, Any], as_: str) -> tuple[list[str], Any]:
    """The SQL statements one request issues (the viewer's lookup included), and its answer."""
    engine = api.client.app.state.app.engine.sync_engine
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        result = api.query(query, variables, as_=as_)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen, result


def statements(api: Any, query: str, variables: dict[str, Any], as_: str) -> tuple[int, Any]:
    """How many SQL statements one request issues (the viewer's lookup included)."""
    seen, result = issued(api, query, variables, as_)
    assert "errors" not in result, result["errors"]
    return len(seen), next(iter(result["data"].values()))


async def _activity(state: Any, org_id: int, agents: list[Agent], tag: str) -> None:
    """For each agent: e-mails, a reply, a stage progression with a won deal, feedback."""
    system = Viewer.system(org_id)
    at = dt.datetime(2026, 10, 5, 10, tzinfo=dt.UTC)
    signals = []
    for agent in agents:
        for i in range(3):
            data = ActionInput(
                action_type="email",
                confidence=0.4,
                idempotency_key=f"{tag}{i}",
                occurred_at=at,
                cost_amount="0.02",
                agent_id=agent.id,
                message_external_id=f"{tag}-{agent.id}-{i}",
            )
            await submit_action(state, system, data, now=at)
        deal = f"{tag}-deal-{agent.id}"
        await submit_action(
            state,
            system,
            ActionInput(
                action_type="stage_progression",
                confidence=0.6,
                idempotency_key=f"{tag}-s",
                occurred_at=at,
                agent_id=agent.id,
                deal_external_id=deal,
            ),
            now=at,
        )
        later = at + dt.timedelta(days=1)
        signals += [
            SignalInput(
                kind="email.replied",
                source="t",
                external_id=f"{tag}-r-{agent.id}",
                occurred_at=later,
                message_external_id=f"{tag}-{agent.id}-0",
                payload={"sentiment": "positive"},
            ),
            SignalInput(
                kind="deal.won",
                source="t",
                external_id=f"{tag}-w-{agent.id}",
                occurred_at=later,
                deal_external_id=deal,
            ),
        ]
        async with state.sessions() as session:
            author = await viewer_for_user(session, await session.get_one(User, agent.owner_id))
        await submit_rating(
            state,
            author,
            FeedbackInput(channel="slack", message_external_id=f"{tag}-{agent.id}-2", thumb="up"),
            now=later,
        )
    await submit_signals(state, system, signals, now=at + dt.timedelta(days=2))


async def _grow(state: Any, world: Any) -> None:
    """Four more reps and agents in alpha, and a new team with two, all with activity."""
    org_id = world.orgs["north"].id
    async with transaction(state.sessions) as session:
        delta = Team(organization_id=org_id, name="delta")
        session.add(delta)
        await session.flush()
        agents = []
        for i, team in enumerate([world.teams["alpha"]] * 4 + [delta] * 2):
            rep = User(
                organization_id=org_id,
                email=f"more{i}@north.example",
                name=f"more{i}",
                role="rep",
                team_id=team.id,
            )
            session.add(rep)
            await session.flush()
            agent = Agent(
                organization_id=org_id, name=f"agent_more{i}", owner_id=rep.id, team_id=team.id
            )
            session.add(agent)
            agents.append(agent)
        await session.flush()
    await _activity(state, org_id, agents, "grow")


def test_dashboard_statements_do_not_grow_with_agents_teams_or_rows(api: Any) -> None:
    state = api.client.app.state.app
    north = [api.world.agents[k] for k in ("rep_a1", "rep_a2", "rep_b1")]
    api.client.portal.call(_activity, state, api.world.orgs["north"].id, north, "base")
    team = {"team": str(GlobalID("Team", str(api.world.teams["alpha"].id))), **RANGE}
    agent = {"agent": str(GlobalID("Agent", str(api.world.agents["rep_a1"].id))), **RANGE}
    before = {
        "team": statements(api, TEAM, team, "manager_a"),
        "executive": statements(api, EXECUTIVE, RANGE, "exec_n"),
        "rep": statements(api, REP, agent, "rep_a1"),
    }
    api.client.portal.call(_grow, state, api.world)
    after = {
        "team": statements(api, TEAM, team, "manager_a"),
        "executive": statements(api, EXECUTIVE, RANGE, "exec_n"),
        "rep": statements(api, REP, agent, "rep_a1"),
    }
    # the data really grew: three times the agents in alpha, a third team, more rows
    small_team, large_team = before["team"][1], after["team"][1]
    assert len(small_team["agents"]) == 2 and len(large_team["agents"]) == 6
    assert {a["agent"]["owner"]["name"] for a in large_team["agents"]} >= {"more0", "more3"}
    assert large_team["metrics"]["interactions"] > small_team["metrics"]["interactions"]
    assert large_team["metrics"]["dealImpact"]["won"] == 6
    assert len(before["executive"][1]["teams"]) == 2 and len(after["executive"][1]["teams"]) == 3
    feedback = [
        d[1]["metrics"]["feedback"]["count"] for d in (before["executive"], after["executive"])
    ]
    assert feedback == [3, 9]
    # ... and the statements did not
    for name in before:
        assert after[name][0] == before[name][0], (name, before[name][0], after[name][0])
    # a fixed, small number: viewer, scope lookups, one per metric family (with the ROI's
    # redone work, labels, people and assumptions), one per loader
    assert max(count for count, _ in after.values()) <= 22, {k: v[0] for k, v in after.items()}


RULES_WITH_HISTORY = """query($first: Int) { alertRules(first: 50, includeDeleted: true) {
  edges { node { name history(first: $first) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { change changedBy { name } } } } } } } }"""
RULE_HISTORY_AFTER = """query($id: ID!, $after: String) { node(id: $id) { ... on AlertRule {
  history(first: 2, after: $after) { totalCount pageInfo { hasNextPage }
    edges { node { change } } } } } }"""
UPSERT_RULE = """mutation($input: UpsertAlertRuleInput!) {
  upsertAlertRule(input: $input) { rule { id } errors { code field } } }"""
DELETE_RULE = """mutation($id: ID!) { deleteAlertRule(input: {id: $id}) { errors { code } } }"""


def _rules_with_history(api: Any, count: int, start: int) -> list[str]:
    """``count`` team rules by manager_a, each changed ``i % 3`` times (a history of 1 to 3
    changes; every third one then deleted: 4 changes); their global ids."""
    ids = []
    for i in range(start, start + count):
        given = {
            "name": f"rule {i}",
            "kind": "THRESHOLD",
            "metric": "reply_rate",
            "scope": "TEAM",
            "teamId": str(GlobalID("Team", str(api.world.teams["alpha"].id))),
            "direction": "BELOW",
            "threshold": 0.2,
        }
        for change in range(i % 3 + 1):
            answer = api.query(
                UPSERT_RULE,
                {
                    "input": {
                        **given,
                        **({"id": ids[-1]} if change else {}),
                        "threshold": 0.2 - change / 100,
                    }
                },
                as_="manager_a",
            )["data"]["upsertAlertRule"]
            assert answer["errors"] == [], answer
            if not change:
                ids.append(answer["rule"]["id"])
        if i % 3 == 2:
            deleted = api.query(DELETE_RULE, {"id": ids[-1]}, as_="manager_a")
            assert deleted["data"]["deleteAlertRule"]["errors"] == [], deleted
    return ids


def test_rule_histories_in_a_list_do_not_grow_the_statements(api: Any) -> None:
    """`alertRules { history }`: one statement for all the rules' first pages, however many."""
    _rules_with_history(api, 3, start=0)
    small, few = statements(api, RULES_WITH_HISTORY, {"first": 2}, "manager_a")
    ids = _rules_with_history(api, 9, start=3)
    large, many = statements(api, RULES_WITH_HISTORY, {"first": 2}, "manager_a")
    assert (len(few["edges"]), len(many["edges"])) == (3, 12)
    assert large == small, (small, large)
    # Each rule's own trail, newest first, paged at 2 with its total.
    expected = {
        f"rule {i}": ["CREATED", *["UPDATED"] * (i % 3)] + (["DELETED"] if i % 3 == 2 else [])
        for i in range(12)
    }
    for edge in many["edges"]:
        rule = edge["node"]
        trail = expected[rule["name"]][::-1]
        history = rule["history"]
        assert history["totalCount"] == len(trail), rule
        assert [e["node"]["change"] for e in history["edges"]] == trail[:2], rule
        assert history["pageInfo"]["hasNextPage"] is (len(trail) > 2), rule
        assert {e["node"]["changedBy"]["name"] for e in history["edges"]} == {"manager_a"}
    # The next page of one rule's trail, after the list's cursor: the rest of it.
    deleted = next(e["node"] for e in many["edges"] if e["node"]["name"] == "rule 5")
    cursor = deleted["history"]["pageInfo"]["endCursor"]
    answer = api.query(RULE_HISTORY_AFTER, {"id": ids[2], "after": cursor}, as_="manager_a")
    rest = answer["data"]["node"]["history"]
    assert [e["node"]["change"] for e in rest["edges"]] == ["UPDATED", "CREATED"]
    assert rest["totalCount"] == 4 and rest["pageInfo"]["hasNextPage"] is False
    # Out of sight: another team's rep sees no rule, another organisation neither.
    for who in ("rep_b1", "exec_s"):
        assert api.query(RULES_WITH_HISTORY, {"first": 2}, as_=who)["data"] == {
            "alertRules": {"edges": []}
        }
