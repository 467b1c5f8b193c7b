"""Thread reviews and feedback quality over GraphQL: assignment without duplicates, the queue,
reviews with criteria, the Thread node per viewer, progress, agreement, skipping, errors by
field and scope per role (rep, peer reviewer, manager, executive, agent key, partner, other
organisation)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import func, select
from strawberry.relay import GlobalID

from backend.database import create_engine
from backend.feedback.models import Feedback
from backend.reviews.models import ReviewAssignment
from tests.factories import NOW

ERRORS = "errors { code field message }"
THREAD = "id subject messageCount dealStatus agent { name }"
ASSIGN = f"""mutation($input: AssignThreadReviewsInput!) {{ assignThreadReviews(input: $input) {{
  assignments {{ reason status reviewer {{ email }} assignedBy {{ email }} thread {{ {THREAD} }} }}
  unassigned {{ id }} {ERRORS} }} }}"""
REVIEW = f"""mutation($input: SubmitThreadReviewInput!) {{ submitThreadReview(input: $input) {{
  review {{ rating criteria comment channel targetType author {{ email }} }} created
  assignment {{ status reason completedAt }} {ERRORS} }} }}"""
SKIP = f"""mutation($input: SkipThreadReviewInput!) {{ skipThreadReview(input: $input) {{
  assignment {{ status }} {ERRORS} }} }}"""
QUEUE = f"""query($reviewer: ID, $status: ReviewStatus) {{
  reviewQueue(reviewerId: $reviewer, status: $status) {{ totalCount
    edges {{ node {{ reason reviewer {{ email }} thread {{ {THREAD} }} }} }} }} }}"""
NODE = """query($id: ID!) { node(id: $id) { ... on Thread { subject messageCount dealStatus
  dealClosedAt reviews { rating author { email } } agreement { pairs meanAbsoluteDifference
  exactAgreement } } } }"""
PROGRESS = """{ reviewProgress { reviewer { email } assigned done skipped total } }"""
AGREEMENT = """query($team: ID) { reviewAgreement(teamId: $team) { reviews threads
  threadsWithSeveralReviews pairs meanAbsoluteDifference exactAgreement kappa
  reviewerPairs { threads meanAbsoluteDifference exactAgreement kappa reviewers { email } } } }"""
SUMMARY = """query($agent: ID, $team: ID) { feedbackSummary(agentId: $agent, teamId: $team) {
  groups { agent { name } targetType actionType meanRating { count mean lower upper }
           positive { successes count rate lower upper } }
  escalationAppropriateness { count rate }
  agreement { actions complete disagreements
    ratingConfidence { paired sameSide { successes count } correlation } } } }"""
RECORD_ACTION = f"""mutation($input: RecordActionInput!) {{ recordAction(input: $input) {{
  action {{ id }} {ERRORS} }} }}"""
RECORD_SIGNALS = f"""mutation($input: RecordSignalsInput!) {{ recordSignals(input: $input) {{
  stored {ERRORS} }} }}"""
SUBMIT_FEEDBACK = f"""mutation($input: SubmitFeedbackInput!) {{ submitFeedback(input: $input) {{
  created {ERRORS} }} }}"""


def gid(type_name: str, row_id: int) -> str:
    return str(GlobalID(type_name, str(row_id)))


def ago(**delta: float) -> str:
    return (NOW - dt.timedelta(**delta)).isoformat()  # the app's clock starts at NOW


def call(api, mutation: str, payload: dict[str, Any], *, as_: str | None) -> dict[str, Any]:
    answer = api.query(mutation, {"input": payload}, as_=as_)
    assert "errors" not in answer, answer
    return next(iter(answer["data"].values()))


def fields(payload: dict[str, Any]) -> dict[str | None, str]:
    return {e["field"]: e["code"] for e in payload["errors"]}


def count(database_url: str, model: type) -> int:
    async def run() -> int:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                return int(await connection.scalar(select(func.count()).select_from(model)) or 0)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def thread(
    api, name: str, *, messages: int = 1, deal: str | None = None, confidence: float = 0.5
) -> list[str]:
    """A thread of rep_a1's agent, recorded by its key; the actions' global ids."""
    ids = []
    for i in range(messages):
        payload = call(
            api,
            RECORD_ACTION,
            {
                "actionType": "email",
                "confidence": confidence,
                "idempotencyKey": f"{name}-{i}",
                "occurredAt": ago(hours=3, minutes=-i),
                "threadExternalId": name,
                "messageExternalId": f"<{name}-{i}@mail>",
                "subject": f"About {name}",
                **({"dealExternalId": deal} if deal else {}),
            },
            as_="agent_a1",
        )
        assert payload["errors"] == [], payload
        ids.append(payload["action"]["id"])
    return ids


def test_assignment_queue_reviews_and_the_thread_node(api, database_url) -> None:
    thread(api, "g-won", messages=2, deal="gd-1")
    call(
        api,
        RECORD_SIGNALS,
        {
            "signals": [
                {
                    "kind": "deal.won",
                    "source": "crm",
                    "externalId": "won-1",
                    "occurredAt": ago(hours=1),
                    "dealExternalId": "gd-1",
                }
            ]
        },
        as_="agent_a1",
    )
    thread(api, "g-long", messages=9)
    thread(api, "g-plain")
    assigned = call(api, ASSIGN, {"reviewersPerThread": 2}, as_="manager_a")
    assert assigned["errors"] == [] and assigned["unassigned"] == []
    got = sorted(
        (a["thread"]["subject"], a["reason"], a["reviewer"]["email"])
        for a in assigned["assignments"]
    )
    # The agent's owner (rep_a1) is never asked; the plain thread is not worth a review.
    assert got == [
        ("About g-long", "LONG_THREAD", "manager_a@north.example"),
        ("About g-long", "LONG_THREAD", "rep_a2@north.example"),
        ("About g-won", "WON", "manager_a@north.example"),
        ("About g-won", "WON", "rep_a2@north.example"),
    ]
    threads = {a["thread"]["subject"]: a["thread"] for a in assigned["assignments"]}
    won, long = threads["About g-won"], threads["About g-long"]
    assert (won["messageCount"], won["dealStatus"], won["agent"]["name"]) == (
        2,
        "WON",
        "agent_rep_a1",
    )
    assert (long["messageCount"], long["dealStatus"]) == (9, None)
    assert {a["assignedBy"]["email"] for a in assigned["assignments"]} == {
        "manager_a@north.example"
    }
    again = call(api, ASSIGN, {"reviewersPerThread": 2}, as_="manager_a")
    assert again["assignments"] == [] and count(database_url, ReviewAssignment) == 4
    # The peer reviewer's queue: their two threads, oldest first, readable although the agent
    # is a teammate's.
    queue = api.query(QUEUE, {}, as_="rep_a2")["data"]["reviewQueue"]
    assert queue["totalCount"] == 2
    assert {e["node"]["thread"]["subject"] for e in queue["edges"]} == {
        "About g-won",
        "About g-long",
    }
    assert api.query(QUEUE, {}, as_="rep_b1")["data"]["reviewQueue"]["totalCount"] == 0
    assert api.query(QUEUE, {}, as_="manager_a")["data"]["reviewQueue"]["totalCount"] == 4
    assert api.query(QUEUE, {}, as_="exec_s")["data"]["reviewQueue"]["totalCount"] == 0
    # Reviews: the peer, then the manager.
    mine = call(
        api,
        REVIEW,
        {"threadId": won["id"], "rating": 4, "tone": 5, "nextStep": 2, "comment": "good close"},
        as_="rep_a2",
    )
    assert mine["errors"] == [] and mine["created"] is True
    assert mine["review"] == {
        "rating": 4,
        "criteria": {"tone": 5, "next_step": 2},
        "comment": "good close",
        "channel": "DASHBOARD",
        "targetType": "CONVERSATION",
        "author": {"email": "rep_a2@north.example"},
    }
    assert (mine["assignment"]["status"], mine["assignment"]["reason"]) == ("DONE", "WON")
    theirs = call(
        api, REVIEW, {"threadId": won["id"], "rating": 5, "channel": "API"}, as_="manager_a"
    )
    assert theirs["errors"] == [] and theirs["review"]["channel"] == "API"
    # The thread as each viewer sees it.
    as_peer = api.query(NODE, {"id": won["id"]}, as_="rep_a2")["data"]["node"]
    assert [r["rating"] for r in as_peer["reviews"]] == [4] and as_peer["agreement"] is None
    for who in ("manager_a", "rep_a1", "exec_n"):
        seen = api.query(NODE, {"id": won["id"]}, as_=who)["data"]["node"]
        assert [r["rating"] for r in seen["reviews"]] == [4, 5], who
        assert seen["agreement"] == {
            "pairs": 1,
            "meanAbsoluteDifference": 1.0,
            "exactAgreement": 0.0,
        }
        assert seen["dealStatus"] == "WON" and seen["dealClosedAt"] is not None
    for who in ("rep_b1", "exec_s"):
        assert api.query(NODE, {"id": won["id"]}, as_=who)["data"]["node"] is None, who
    # The agent's key sees its own thread, never the people's ratings of it.
    as_agent = api.query(NODE, {"id": won["id"]}, as_="agent_a1")["data"]["node"]
    assert as_agent["subject"] == "About g-won" and as_agent["reviews"] == []
    # Skipping the other thread; a second skip finds nothing open.
    skipped = call(api, SKIP, {"threadId": long["id"]}, as_="rep_a2")
    assert skipped == {"assignment": {"status": "SKIPPED"}, "errors": []}
    assert fields(call(api, SKIP, {"threadId": long["id"]}, as_="rep_a2")) == {
        "threadId": "NOT_FOUND"
    }
    progress = api.query(PROGRESS, as_="manager_a")["data"]["reviewProgress"]
    assert sorted(
        (p["reviewer"]["email"], p["assigned"], p["done"], p["skipped"], p["total"])
        for p in progress
    ) == [("manager_a@north.example", 1, 1, 0, 2), ("rep_a2@north.example", 0, 1, 1, 2)]
    mine_only = api.query(PROGRESS, as_="rep_a2")["data"]["reviewProgress"]
    assert [p["reviewer"]["email"] for p in mine_only] == ["rep_a2@north.example"]
    agreement = api.query(
        AGREEMENT, {"team": gid("Team", api.world.teams["alpha"].id)}, as_="manager_a"
    )["data"]["reviewAgreement"]
    assert agreement == {
        "reviews": 2,
        "threads": 1,
        "threadsWithSeveralReviews": 1,
        "pairs": 1,
        "meanAbsoluteDifference": 1.0,
        "exactAgreement": 0.0,
        "kappa": None,
        "reviewerPairs": [
            {
                "threads": 1,
                "meanAbsoluteDifference": 1.0,
                "exactAgreement": 0.0,
                "kappa": None,
                "reviewers": [
                    {"email": "manager_a@north.example"},
                    {"email": "rep_a2@north.example"},
                ],
            }
        ],
    }


def test_rejections_name_their_fields_and_change_nothing(api, database_url) -> None:
    thread(api, "g-1", messages=9)
    assert (
        call(
            api, ASSIGN, {"reviewerId": gid("User", api.world.users["rep_a2"].id)}, as_="manager_a"
        )["errors"]
        == []
    )
    answer = api.query(QUEUE, {}, as_="rep_a2")["data"]["reviewQueue"]
    target = answer["edges"][0]["node"]["thread"]["id"]
    before = count(database_url, ReviewAssignment)
    bad = call(
        api,
        REVIEW,
        {"threadId": target, "rating": 7, "tone": 0, "timing": 6, "channel": "SLACK"},
        as_="rep_a2",
    )
    assert fields(bad) == {
        "rating": "INVALID",
        "tone": "INVALID",
        "timing": "INVALID",
        "channel": "INVALID",
    }
    assert bad["review"] is None and bad["assignment"] is None
    for who in ("rep_b1", "exec_s"):  # another team's / organisation's thread: unknown
        assert fields(call(api, REVIEW, {"threadId": target, "rating": 3}, as_=who)) == {
            "threadId": "NOT_FOUND"
        }
    for who in ("agent_a1", "partner_n"):
        assert fields(call(api, REVIEW, {"threadId": target, "rating": 3}, as_=who)) == {
            None: "FORBIDDEN"
        }
    for thread_value, code in ((gid("Agent", 1), "NOT_FOUND"), ("not-an-id", "INVALID")):
        assert fields(call(api, REVIEW, {"threadId": thread_value, "rating": 3}, as_="rep_a2")) == {
            "threadId": code
        }
    assert count(database_url, Feedback) == 0
    for who in ("rep_a1", "agent_a1", "partner_n"):
        assert fields(call(api, ASSIGN, {}, as_=who)) == {None: "FORBIDDEN"}, who
    wrong = call(
        api,
        ASSIGN,
        {
            "reasons": ["MANUAL"],
            "limit": 0,
            "reviewersPerThread": 9,
            "minMessages": 1,
            "teamId": gid("Team", api.world.teams["beta"].id),
            "from": "2026-02-01",
            "to": "2026-01-01",
        },
        as_="manager_a",
    )
    assert fields(wrong) == {
        "reasons": "INVALID",
        "limit": "INVALID",
        "reviewersPerThread": "INVALID",
        "minMessages": "INVALID",
        "teamId": "NOT_FOUND",
        "from": "INVALID",
    }
    assert fields(
        call(api, ASSIGN, {"threadIds": [target, gid("Thread", 10**9)]}, as_="rep_a2")
    ) == {None: "FORBIDDEN"}
    assert fields(
        call(api, ASSIGN, {"threadIds": [target, gid("Thread", 10**9)]}, as_="manager_a")
    ) == {"threadIds[1]": "NOT_FOUND"}
    assert count(database_url, ReviewAssignment) == before
    for who in ("agent_a1", "partner_n"):
        answer = api.query(QUEUE, {}, as_=who)
        assert answer["data"] is None
        assert answer["errors"][0]["extensions"]["code"] == "forbidden"


def test_feedback_summary(api, database_url) -> None:
    (e1,) = thread(api, "s-1", confidence=0.8)
    thread(api, "s-2", confidence=0.3)
    for who, payload in (
        ("manager_a", {"actionId": e1, "rating": 2, "channel": "DASHBOARD"}),
        ("rep_a1", {"messageExternalId": "<s-1-0@mail>", "thumb": "DOWN", "channel": "SLACK"}),
        ("rep_a1", {"messageExternalId": "<s-2-0@mail>", "thumb": "UP", "channel": "SLACK"}),
    ):
        assert call(api, SUBMIT_FEEDBACK, payload, as_=who)["errors"] == []
    agent = gid("Agent", api.world.agents["rep_a1"].id)
    for who in ("manager_a", "rep_a1", "exec_n", "partner_n"):
        answer = api.query(SUMMARY, {"agent": agent}, as_=who)
        assert "errors" not in answer, (who, answer)
        summary = answer["data"]["feedbackSummary"]
        groups = {(g["targetType"], g["actionType"]): g for g in summary["groups"]}
        assert set(groups) == {("ACTION", "email"), ("MESSAGE", "email")}
        thumbs = groups[("MESSAGE", "email")]
        assert thumbs["agent"]["name"] == "agent_rep_a1"
        assert thumbs["meanRating"]["count"] == 2 and thumbs["meanRating"]["mean"] == 0.5
        assert (thumbs["positive"]["successes"], thumbs["positive"]["count"]) == (1, 2)
        assert 0 < thumbs["positive"]["lower"] < 0.5 < thumbs["positive"]["upper"] < 1
        assert groups[("ACTION", "email")]["meanRating"]["mean"] == 2.0
        assert summary["escalationAppropriateness"] == {"count": 0, "rate": None}
        # s-1: rating (0.25 + 0) / 2 against confidence 0.8; s-2: thumb up against 0.3.
        view = summary["agreement"]
        assert (view["actions"], view["complete"], view["disagreements"]) == (2, 0, 2)
        assert view["ratingConfidence"]["sameSide"] == {"successes": 0, "count": 2}
        assert view["ratingConfidence"]["correlation"] == -1.0
    # rep_a2 does not see rep_a1's agent; another organisation neither; the agent key reads
    # no feedback; an agent and a team at once is one too many.
    for who, variables, code in (
        ("rep_a2", {"agent": agent}, "not_found"),
        ("exec_s", {"agent": agent}, "not_found"),
        ("agent_a1", {}, "forbidden"),
        (
            "manager_a",
            {"agent": agent, "team": gid("Team", api.world.teams["alpha"].id)},
            "invalid",
        ),
    ):
        answer = api.query(SUMMARY, variables, as_=who)
        assert answer["errors"][0]["extensions"]["code"] == code, (who, answer)
