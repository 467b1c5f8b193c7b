"""Feedback prompts over GraphQL: `feedbackPrompts` by role, `answerFeedbackPrompt` (who may,
what it changes, what it refuses), expiry through the worker with an injected clock, and the
`feedbackPrompts` subscription."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from strawberry.relay import GlobalID

from backend.worker import run_jobs_once
from tests.graphql_schema.test_subscriptions import (
    connect,
    on_app_loop,
    state_of,
    wait_for_subscribers,
)

RECORD_ACTION = """mutation($input: RecordActionInput!) {
  recordAction(input: $input) { action { id isCritical } errors { code field message } } }"""
PROMPTS = """query($state: FeedbackPromptState, $assignee: ID) {
  feedbackPrompts(state: $state, assigneeId: $assignee) { totalCount edges { node {
    id reason state expiresAt remindedAt answeredAt answeredChannel
    action { id actionType } assignee { email } feedback { rating prompted comment } } } } }"""
ANSWER = """mutation($input: AnswerFeedbackPromptInput!) {
  answerFeedbackPrompt(input: $input) {
    prompt { id state answeredChannel } feedback { rating comment prompted channel }
    errors { code field message } } }"""
SUBMIT = """mutation($input: SubmitFeedbackInput!) {
  submitFeedback(input: $input) { feedback { prompted } errors { code field message } } }"""
SUBSCRIBE = """subscription($assignee: ID) { feedbackPrompts(assigneeId: $assignee) {
  version stream change state promptId actionId agentId assigneeId } }"""


def escalate(api, key: str, *, as_: str = "agent_a1") -> str:
    """The agent records an escalation (critical): the global id of the action."""
    occurred = api.now() - dt.timedelta(minutes=5)
    answer = api.query(
        RECORD_ACTION,
        {
            "input": {
                "actionType": "escalation",
                "confidence": 0.4,
                "idempotencyKey": key,
                "occurredAt": occurred.isoformat(),
            }
        },
        as_=as_,
    )["data"]["recordAction"]
    assert answer["errors"] == [] and answer["action"]["isCritical"], answer
    return answer["action"]["id"]


def prompts(api, as_: str, state: str = "OPEN", **variables: Any) -> dict[str, Any]:
    return api.query(PROMPTS, {"state": state, **variables}, as_=as_)


def open_prompt(api) -> dict[str, Any]:
    [edge] = prompts(api, "rep_a1")["data"]["feedbackPrompts"]["edges"]
    return edge["node"]


def answer(api, as_: str, prompt_id: str, rating: Any = 4, **extra: Any) -> dict[str, Any]:
    given = {"promptId": prompt_id, "rating": rating, **extra}
    return api.query(ANSWER, {"input": given}, as_=as_)["data"]["answerFeedbackPrompt"]


def test_a_critical_action_asks_its_rep_and_people_see_prompts_by_role(api) -> None:
    action = escalate(api, "esc-1")
    prompt = open_prompt(api)
    assert prompt["reason"] == "CRITICAL_ACTION" and prompt["state"] == "OPEN"
    assert prompt["action"]["id"] == action
    assert prompt["assignee"]["email"] == api.world.users["rep_a1"].email
    assert prompt["feedback"] is None and prompt["remindedAt"] is None
    count = {
        who: prompts(api, who)["data"]["feedbackPrompts"]["totalCount"]
        for who in ("rep_a1", "manager_a", "exec_n", "partner_n", "rep_a2", "rep_b1", "exec_s")
    }
    assert count == {
        "rep_a1": 1,
        "manager_a": 1,
        "exec_n": 1,
        "partner_n": 1,
        "rep_a2": 0,
        "rep_b1": 0,
        "exec_s": 0,
    }
    refused = prompts(api, "agent_a1")
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "forbidden"
    assert prompts(api, "rep_a1", "ANSWERED")["data"]["feedbackPrompts"]["totalCount"] == 0
    # A routine action asks nobody.
    api.query(
        RECORD_ACTION,
        {
            "input": {
                "actionType": "email",
                "confidence": 0.5,
                "idempotencyKey": "mail-1",
                "occurredAt": api.now().isoformat(),
            }
        },
        as_="agent_a1",
    )
    assert prompts(api, "exec_n")["data"]["feedbackPrompts"]["totalCount"] == 1


def test_only_the_person_asked_answers_and_bad_answers_change_nothing(api) -> None:
    escalate(api, "esc-1")
    prompt_id = open_prompt(api)["id"]
    by_manager = answer(api, "manager_a", prompt_id)
    assert [(e["code"], e["field"]) for e in by_manager["errors"]] == [("FORBIDDEN", "promptId")]
    for outsider in ("rep_b1", "exec_s"):  # out of scope, another organisation: unknown
        refused = answer(api, outsider, prompt_id)
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("NOT_FOUND", "promptId")]
    bad = answer(api, "rep_a1", prompt_id, rating=7)
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [("INVALID", "rating")]
    assert answer(api, "rep_a1", "not-an-id")["errors"][0]["code"] == "INVALID"
    assert open_prompt(api)["state"] == "OPEN"  # nothing changed

    done = answer(api, "rep_a1", prompt_id, rating=4, comment="right call")
    assert done["errors"] == []
    assert done["prompt"] == {"id": prompt_id, "state": "ANSWERED", "answeredChannel": "DASHBOARD"}
    assert done["feedback"] == {
        "rating": 4,
        "comment": "right call",
        "prompted": True,
        "channel": "DASHBOARD",
    }
    assert prompts(api, "rep_a1")["data"]["feedbackPrompts"]["totalCount"] == 0
    [edge] = prompts(api, "manager_a", "ANSWERED")["data"]["feedbackPrompts"]["edges"]
    assert edge["node"]["feedback"]["rating"] == 4 and edge["node"]["answeredAt"] is not None
    again = answer(api, "rep_a1", prompt_id, rating=2)  # changing one's mind
    assert again["errors"] == [] and again["feedback"]["rating"] == 2
    assert prompts(api, "rep_a1", "ANSWERED")["data"]["feedbackPrompts"]["totalCount"] == 1


def test_rating_the_action_anywhere_answers_the_prompt(api) -> None:
    action = escalate(api, "esc-1")
    rated = api.query(
        SUBMIT, {"input": {"actionId": action, "rating": 5, "channel": "API"}}, as_="rep_a1"
    )["data"]["submitFeedback"]
    assert rated == {"feedback": {"prompted": True}, "errors": []}
    [edge] = prompts(api, "rep_a1", "ANSWERED")["data"]["feedbackPrompts"]["edges"]
    assert edge["node"]["answeredChannel"] == "API"


def test_an_expired_prompt_cannot_be_answered(api) -> None:
    escalate(api, "esc-1")
    prompt_id = open_prompt(api)["id"]
    api.clock.advance(dt.timedelta(hours=25))  # the app's clock: the worker's and the API's
    done = on_app_loop(api, lambda: run_jobs_once(state_of(api)))
    assert done["expire_feedback_prompts"] == 1
    [edge] = prompts(api, "rep_a1", "EXPIRED")["data"]["feedbackPrompts"]["edges"]
    assert edge["node"]["id"] == prompt_id
    refused = answer(api, "rep_a1", prompt_id)
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("CONFLICT", "promptId")]
    assert "expired" in refused["errors"][0]["message"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_subscription_follows_prompts_the_viewer_sees(api) -> None:
    with (
        connect(api, "rep_a1") as rep,
        connect(api, "manager_a") as manager,
        connect(api, "rep_b1") as other_team,
        connect(api, "agent_a1") as agent,
    ):
        agent.subscribe(SUBSCRIBE)
        refusal = agent.receive()
        assert refusal["type"] == "error", refusal
        for live in (rep, manager, other_team):
            live.subscribe(SUBSCRIBE)
        wait_for_subscribers(api, "feedback_prompt.changed", 3)
        action = escalate(api, "esc-1")
        for live in (rep, manager):
            event = live.next_event("feedbackPrompts")
            assert (event["change"], event["state"], event["actionId"]) == (
                "created",
                "open",
                action,
            )
            assert event["stream"] == f"prompts:user:{api.world.users['rep_a1'].id}"
        assert event["assigneeId"].startswith("VXNlcj")  # base64 of "User:"
        assert answer(api, "rep_a1", event["promptId"])["errors"] == []
        answered = rep.next_event("feedbackPrompts")
        assert (answered["change"], answered["state"]) == ("answered", "answered")
        assert answered["version"] == event["version"] + 1
        with pytest.raises(TimeoutError):
            other_team.receive(timeout=0.3)  # rep_b1 sees none of alpha's agents


SCOPED = """query($agent: ID, $team: ID) { feedbackPrompts(agentId: $agent, teamId: $team) {
  totalCount edges { node { id action { agent { name } } } } } }"""


def test_prompts_narrow_to_an_agent_or_a_team_in_scope(api) -> None:
    escalate(api, "esc-scoped")  # asks rep_a1 about agent_rep_a1's escalation
    world = api.world
    alpha = str(GlobalID("Team", str(world.teams["alpha"].id)))
    beta = str(GlobalID("Team", str(world.teams["beta"].id)))
    agent = {rep: str(GlobalID("Agent", str(a.id))) for rep, a in world.agents.items()}

    def count(as_: str, **variables: str) -> int:
        answer = api.query(SCOPED, variables, as_=as_)
        assert "errors" not in answer, answer
        page = answer["data"]["feedbackPrompts"]
        names = {e["node"]["action"]["agent"]["name"] for e in page["edges"]}
        assert names <= {"agent_rep_a1"}, names
        return page["totalCount"]

    assert count("exec_n", team=alpha) == count("manager_a", team=alpha) == 1
    assert count("exec_n", team=beta) == 0
    assert count("exec_n", agent=agent["rep_a1"]) == count("rep_a1", agent=agent["rep_a1"]) == 1
    assert count("manager_a", agent=agent["rep_a2"]) == 0
    cases = [
        ("manager_a", {"team": beta}, "not_found", "teamId"),
        ("manager_a", {"agent": agent["rep_b1"]}, "not_found", "agentId"),
        ("rep_a2", {"agent": agent["rep_a1"]}, "not_found", "agentId"),
        ("rep_a1", {"team": beta}, "not_found", "teamId"),
        ("exec_s", {"team": alpha}, "not_found", "teamId"),
        ("exec_s", {"agent": agent["rep_a1"]}, "not_found", "agentId"),
        ("exec_n", {"agent": agent["rep_a1"], "team": alpha}, "invalid", "teamId"),
        ("exec_n", {"team": "garbage"}, "invalid", "teamId"),
    ]
    for who, variables, code, field in cases:
        answer = api.query(SCOPED, variables, as_=who)
        assert answer["data"] is None, (who, variables, answer)
        extensions = answer["errors"][0]["extensions"]
        assert (extensions["code"], extensions["field"]) == (code, field), (who, variables)
    # Another organisation's team answers as an unknown one.
    foreign = api.query(SCOPED, {"team": alpha}, as_="exec_s")["errors"][0]
    unknown = api.query(SCOPED, {"team": str(GlobalID("Team", "999999"))}, as_="exec_s")
    assert (foreign["message"], foreign["extensions"]) == (
        unknown["errors"][0]["message"],
        unknown["errors"][0]["extensions"],
    )
