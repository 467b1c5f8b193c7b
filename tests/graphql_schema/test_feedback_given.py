"""`feedbackGiven`: the feedback the viewer gave, on any agent (a peer review of a teammate's
thread too, which `feedback` does not list for them), narrowed by the same filter; nobody
else's; people only."""

from __future__ import annotations

from typing import Any

from tests.graphql_schema.test_reviews import ASSIGN, REVIEW, call, thread

GIVEN = """query($filter: FeedbackFilter, $first: Int) { feedbackGiven(filter: $filter,
  first: $first) { edges { node { targetType rating comment author { email } } }
  pageInfo { hasNextPage } } }"""
SEEN = """{ feedback { edges { node { rating author { email } } } } }"""


def given(api: Any, as_: str, **variables: Any) -> list[dict[str, Any]]:
    answer = api.query(GIVEN, variables, as_=as_)
    assert "errors" not in answer, answer
    return [e["node"] for e in answer["data"]["feedbackGiven"]["edges"]]


def test_the_feedback_you_gave_anywhere_and_only_yours(api: Any) -> None:
    thread(api, "fg-long", messages=9)
    assigned = call(api, ASSIGN, {"reviewersPerThread": 2}, as_="manager_a")
    (thread_id,) = {a["thread"]["id"] for a in assigned["assignments"]}
    for who, rating in (("rep_a2", 4), ("manager_a", 2)):
        review = call(
            api, REVIEW, {"threadId": thread_id, "rating": rating, "comment": who}, as_=who
        )
        assert review["errors"] == [], review
    mine = given(api, "rep_a2")
    assert mine == [
        {
            "targetType": "CONVERSATION",
            "rating": 4,
            "comment": "rep_a2",
            "author": {"email": "rep_a2@north.example"},
        }
    ]
    # `feedback` lists what the viewer's scope holds: not the peer's review of a teammate.
    seen = api.query(SEEN, as_="rep_a2")["data"]["feedback"]["edges"]
    assert all(e["node"]["author"]["email"] != "rep_a2@north.example" for e in seen)
    assert [f["rating"] for f in given(api, "manager_a")] == [2]
    assert given(api, "manager_a", filter={"minRating": 3}) == []
    assert given(api, "manager_a", filter={"targetType": "CONVERSATION"})[0]["rating"] == 2
    # The agent's owner gave nothing; another organisation's people see nothing of it.
    assert given(api, "rep_a1") == [] and given(api, "exec_s") == []
    assert given(api, "exec_n") == []


def test_api_keys_are_refused_and_the_page_is_bounded(api: Any) -> None:
    for key in ("agent_a1", "partner_n"):
        answer = api.query(GIVEN, {}, as_=key)
        (error,) = answer["errors"]
        assert error["extensions"]["code"] == "forbidden", (key, answer)
    answer = api.query(GIVEN, {"first": 101}, as_="rep_a1")
    (error,) = answer["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("invalid", "first")
