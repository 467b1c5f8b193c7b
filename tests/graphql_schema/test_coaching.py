"""GraphQL: `coachingInsights`, `decideCoachingInsight`, `refreshCoachingInsights` on the real
app: who sees and decides what, the numbers and evidence shown, and bad input."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from strawberry.relay import GlobalID

from backend.database import create_engine, create_sessionmaker
from backend.unit_of_work import transaction
from tests.backend.coaching.builders import email_history, tuesday_twice
from tests.graphql_schema.conftest import Api

LIST = """
query($team: ID!, $status: CoachingInsightStatus, $audience: CoachingAudience) {
  coachingInsights(teamId: $team, status: $status, audience: $audience) {
    totalCount
    edges { node {
      id outcomeType feature featureValue direction audience statement advice status
      periodStart periodEnd expiresAt
      effect { rate baselineRate difference interval { low high confidenceLevel }
               lift pValue qValue test }
      evidence { n support candidatesTested falseDiscoveryRate minSupport
                 exampleActions { id actionType occurredAt } }
      decision { decision decidedAt note decidedBy { name } }
      followUp { n rate }
      team { name }
    } }
  }
}
"""
REFRESH = """
mutation($team: ID!) {
  refreshCoachingInsights(input: {teamId: $team}) { raised errors { code field message } }
}
"""
DECIDE = """
mutation($id: ID!, $decision: CoachingDecision!, $note: String) {
  decideCoachingInsight(input: {id: $id, decision: $decision, note: $note}) {
    insight { id status decision { decision decidedAt note decidedBy { name } } }
    errors { code field message }
  }
}
"""


def gid(kind: str, id_: int) -> str:
    return str(GlobalID(kind, str(id_)))


def _history(api: Api, database_url: str) -> None:
    """Eight matured weeks of team alpha's e-mails (as the mining tests), Tuesdays replied
    twice as often."""

    async def build() -> None:
        engine = create_engine(database_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                agents = [api.world.agents["rep_a1"], api.world.agents["rep_a2"]]
                await email_history(
                    session,
                    agents,
                    first_day=dt.date(2026, 8, 31),
                    days=56,
                    per_day=25,
                    reply_rate=tuesday_twice,
                    seed=3,
                )
        finally:
            await engine.dispose()

    asyncio.run(build())


def _errors(payload: dict[str, Any]) -> dict[str | None, str]:
    return {e["field"]: e["code"].lower() for e in payload["errors"]}


def _mined(api: Api, database_url: str) -> tuple[str, dict[str, Any]]:
    _history(api, database_url)
    team = gid("Team", api.world.teams["alpha"].id)
    answer = api.query(REFRESH, {"team": team}, as_="manager_a")
    assert answer["data"]["refreshCoachingInsights"] == {"raised": 1, "errors": []}
    listed = api.query(LIST, {"team": team}, as_="manager_a")["data"]["coachingInsights"]
    assert listed["totalCount"] == 1
    return team, listed["edges"][0]["node"]


def test_a_manager_mines_lists_and_opens_the_evidence(api: Api, database_url: str) -> None:
    team, node = _mined(api, database_url)
    assert (node["feature"], node["featureValue"], node["direction"], node["audience"]) == (
        "weekday",
        "tue",
        "HIGHER",
        "REP",
    )
    assert (node["outcomeType"], node["status"], node["team"]) == (
        "email_reply",
        "NEW",
        {"name": "alpha"},
    )
    assert (node["periodStart"], node["periodEnd"]) == ("2026-08-31", "2026-10-25")
    effect, evidence = node["effect"], node["evidence"]
    assert effect["interval"]["low"] > 0 and effect["interval"]["confidenceLevel"] == 0.95
    assert effect["qValue"] <= 0.05 and effect["test"] == "two_proportion_z"
    assert effect["difference"] == effect["rate"] - effect["baselineRate"]
    assert evidence["n"] == 56 * 25 and evidence["falseDiscoveryRate"] == 0.05
    examples = evidence["exampleActions"]
    assert len(examples) == 5
    assert all(
        dt.datetime.fromisoformat(a["occurredAt"]).weekday() == 1 and a["actionType"] == "email"
        for a in examples
    )
    assert node["decision"] is None and node["followUp"] is None
    assert node["statement"].startswith("Actions on Tuesday get a reply")
    assert node["advice"].startswith("Send on Tuesday when you can")
    # A rerun over the same days raises nothing new.
    again = api.query(REFRESH, {"team": team}, as_="manager_a")["data"]
    assert again["refreshCoachingInsights"]["raised"] == 0
    # The insight is a node too.
    fetched = api.query(
        "query($id: ID!) { node(id: $id) { ... on CoachingInsight { featureValue } } }",
        {"id": node["id"]},
        as_="manager_a",
    )
    assert fetched["data"]["node"] == {"featureValue": "tue"}


def test_who_sees_and_runs_a_teams_coaching(api: Api, database_url: str) -> None:
    team, node = _mined(api, database_url)
    beta, gamma = (gid("Team", api.world.teams[k].id) for k in ("beta", "gamma"))
    # The team's rep sees the advice meant for reps; executives see the whole organisation.
    for who in ("rep_a1", "exec_n"):
        listed = api.query(LIST, {"team": team}, as_=who)["data"]["coachingInsights"]
        assert [e["node"]["id"] for e in listed["edges"]] == [node["id"]], who
    # A manager of another team, a rep of another team, another organisation: not found.
    for who, which in (("manager_a", beta), ("rep_b1", team), ("exec_s", team)):
        answer = api.query(LIST, {"team": which}, as_=who)
        assert answer["errors"][0]["extensions"]["code"] == "not_found", who
    answer = api.query(LIST, {"team": gamma}, as_="manager_a")
    assert answer["errors"][0]["extensions"]["code"] == "not_found"
    # A rep may not ask for the managers' insights; API keys read no coaching.
    answer = api.query(LIST, {"team": team, "audience": "MANAGER"}, as_="rep_a1")
    assert answer["errors"][0]["extensions"]["code"] == "forbidden"
    answer = api.query(LIST, {"team": team}, as_="partner_n")
    assert answer["errors"][0]["extensions"]["code"] == "forbidden"
    # Running on demand: the team's managers; not its reps, not another team's manager.
    refresh = api.query(REFRESH, {"team": team}, as_="rep_a1")["data"]["refreshCoachingInsights"]
    assert (refresh["raised"], _errors(refresh)) == (None, {None: "forbidden"})
    refresh = api.query(REFRESH, {"team": beta}, as_="manager_a")["data"]
    assert _errors(refresh["refreshCoachingInsights"]) == {"teamId": "not_found"}
    refresh = api.query(REFRESH, {"team": "nonsense"}, as_="manager_a")["data"]
    assert _errors(refresh["refreshCoachingInsights"]) == {"teamId": "invalid"}


def test_a_manager_decides_once_and_a_rep_cannot(api: Api, database_url: str) -> None:
    team, node = _mined(api, database_url)
    insight = node["id"]
    rejected = api.query(DECIDE, {"id": insight, "decision": "DISMISSED"}, as_="rep_a1")
    assert _errors(rejected["data"]["decideCoachingInsight"]) == {None: "forbidden"}
    for variables, expected in (
        ({"id": insight, "decision": "ACTED_ON", "note": "x" * 1001}, {"note": "invalid"}),
        ({"id": "bad", "decision": "ACTED_ON"}, {"id": "invalid"}),
        ({"id": gid("CoachingInsight", 10**9), "decision": "ACTED_ON"}, {"id": "not_found"}),
        ({"id": gid("Action", 1), "decision": "ACTED_ON"}, {"id": "not_found"}),
    ):
        answer = api.query(DECIDE, variables, as_="manager_a")["data"]["decideCoachingInsight"]
        assert (answer["insight"], _errors(answer)) == (None, expected), variables
    # Nothing of the rejected requests stuck.
    listed = api.query(LIST, {"team": team, "status": "NEW"}, as_="manager_a")
    assert listed["data"]["coachingInsights"]["totalCount"] == 1
    done = api.query(
        DECIDE,
        {"id": insight, "decision": "ACTED_ON", "note": "  coached reps on Tuesday sends "},
        as_="manager_a",
    )["data"]["decideCoachingInsight"]
    assert done["errors"] == []
    decision = done["insight"]["decision"]
    assert (decision["decision"], decision["note"], decision["decidedBy"]) == (
        "ACTED_ON",
        "coached reps on Tuesday sends",
        {"name": "manager_a"},
    )
    assert done["insight"]["status"] == "ACTED_ON"
    # A retried request counts once; another decision afterwards is a conflict.
    retried = api.query(DECIDE, {"id": insight, "decision": "ACTED_ON"}, as_="manager_a")
    retried_decision = retried["data"]["decideCoachingInsight"]["insight"]["decision"]
    assert retried_decision == decision
    other = api.query(DECIDE, {"id": insight, "decision": "DISMISSED"}, as_="manager_a")
    assert _errors(other["data"]["decideCoachingInsight"]) == {"decision": "conflict"}
    # Executives do not decide (managers of the team and admins do).
    foreign = api.query(DECIDE, {"id": insight, "decision": "DISMISSED"}, as_="exec_s")
    assert _errors(foreign["data"]["decideCoachingInsight"]) == {None: "forbidden"}
    listed = api.query(LIST, {"team": team, "status": "ACTED_ON"}, as_="manager_a")
    assert listed["data"]["coachingInsights"]["totalCount"] == 1
