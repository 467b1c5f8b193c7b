"""Every mutation's bad input, over HTTP against a running server: a payload listing each
field at fault with its code, no result, and — read straight from the database, every row of
every table — nothing changed. Ids out of the caller's scope or of another organisation get the
very payload an unknown id gets.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.e2e.conftest import Deployment, gid

# One worker runs this module's tests: its servers (per database) start once, not once per
# worker that picks up one of its tests.
pytestmark = pytest.mark.xdist_group("e2e-mutations_http")

ERRORS = "errors { code field message }"
MUTATIONS = {
    "recordAction": f"""mutation($input: RecordActionInput!) {{ recordAction(input: $input) {{
      action {{ id }} created calibratedConfidence decision policy {{ version }} {ERRORS} }} }}""",
    "recordSignals": f"""mutation($input: RecordSignalsInput!) {{ recordSignals(input: $input) {{
      received stored duplicates matched resolved needsLabel late unmatched {{ externalId }}
      {ERRORS} }} }}""",
    "recordOutcome": f"""mutation($input: RecordOutcomeInput!) {{ recordOutcome(input: $input) {{
      outcome {{ id status }} correction {ERRORS} }} }}""",
    "labelOutcome": f"""mutation($input: LabelOutcomeInput!) {{ labelOutcome(input: $input) {{
      outcome {{ id status }} correction {ERRORS} }} }}""",
    "submitFeedback": f"""mutation($input: SubmitFeedbackInput!) {{
      submitFeedback(input: $input) {{ feedback {{ id rating }} created {ERRORS} }} }}""",
    "freezePolicy": f"""mutation($input: FreezePolicyInput!) {{ freezePolicy(input: $input) {{
      policy {{ version frozen }} {ERRORS} }} }}""",
    "rollbackPolicy": f"""mutation($input: RollbackPolicyInput!) {{
      rollbackPolicy(input: $input) {{ policy {{ version frozen }} {ERRORS} }} }}""",
}
UNKNOWN = 987654
FORBIDDEN = {None: "FORBIDDEN"}
Case = tuple[str | None, dict[str, Any], dict[str | None, str]]  # caller, input, field -> code


def ago(**delta: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(**delta)).isoformat()


def payload_of(
    deployment: Deployment, name: str, given: dict[str, Any], *, as_: str | None
) -> dict[str, Any]:
    response = deployment.query(MUTATIONS[name], {"input": given}, as_=as_)
    assert "errors" not in response, response  # GraphQL errors are for bugs, not bad input
    return response["data"][name]


def rejected(
    deployment: Deployment, name: str, given: dict[str, Any], *, as_: str | None
) -> dict[str | None, str]:
    """The user errors (field -> code) of a rejected mutation, whose result must be empty."""
    payload = payload_of(deployment, name, given, as_=as_)
    assert payload["errors"], (name, given, payload)
    assert all(value is None for key, value in payload.items() if key != "errors"), payload
    return {error["field"]: error["code"] for error in payload["errors"]}


def check(
    deployment: Deployment,
    name: str,
    cases: list[Case],
    same_as_unknown: list[tuple[str, list[dict[str, Any]], dict[str | None, str]]],
) -> None:
    """Each case is rejected with exactly its fields; each group of inputs (hidden ids first,
    the unknown id last) gets one identical payload with those fields; nothing changed."""
    before = deployment.snapshot()
    for as_, given, expected in cases:
        assert rejected(deployment, name, given, as_=as_) == expected, (as_, given)
    for as_, inputs, expected in same_as_unknown:
        payloads = [payload_of(deployment, name, given, as_=as_) for given in inputs]
        assert rejected(deployment, name, inputs[-1], as_=as_) == expected
        assert all(p == payloads[-1] for p in payloads), (as_, inputs, payloads)
    after = deployment.snapshot()
    assert {t: rows for t, rows in after.items() if before[t] != rows} == {}


def test_record_action(deployment: Deployment) -> None:
    agents = deployment.ids.agents
    good = {
        "actionType": "email",
        "confidence": 0.5,
        "idempotencyKey": "e2e-rejected",
        "messageExternalId": "<rejected@mail>",
        "threadExternalId": "thread-rejected",
        "dealExternalId": "deal-rejected",
    }
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    cases: list[Case] = [
        (
            "agent_a1",
            {
                **good,
                "actionType": "Send Email",
                "confidence": 1.5,
                "idempotencyKey": " ",
                "cost": {"amount": -1, "currency": "usd", "tokens": -3},
            },
            dict.fromkeys(
                [
                    "actionType",
                    "confidence",
                    "idempotencyKey",
                    "cost.amount",
                    "cost.currency",
                    "cost.tokens",
                ],
                "INVALID",
            ),
        ),
        ("agent_a1", {**good, "occurredAt": tomorrow}, {"occurredAt": "INVALID"}),
        ("agent_a1", {**good, "details": [1, 2]}, {"details": "INVALID"}),
        ("agent_a1", {**good, "agentId": "not-a-global-id"}, {"agentId": "INVALID"}),
        ("rep_a1", good, FORBIDDEN),
        ("exec_n", good, FORBIDDEN),
        ("partner_n", good, FORBIDDEN),
        (None, good, {None: "UNAUTHENTICATED"}),
    ]
    hidden = [
        {**good, "agentId": gid("Agent", agent)}
        for agent in (agents["rep_a2"], agents["rep_s1"], UNKNOWN)
    ]
    check(deployment, "recordAction", cases, [("agent_a1", hidden, {"agentId": "NOT_FOUND"})])


def test_record_signals(deployment: Deployment) -> None:
    # Accepted, this reply would resolve the outcome of rep_a1's agent that waits for a label.
    reply = {
        "kind": "email.replied",
        "source": "esp",
        "externalId": "e2e-rejected-reply",
        "occurredAt": ago(hours=1),
        "messageExternalId": "<rep_a1-label@mail>",
        "payload": {"sentiment": "positive"},
    }
    bad = {
        "kind": "email.teleported",
        "source": "ESP!",
        "externalId": "",
        "occurredAt": ago(hours=1),
    }
    many = [{**reply, "externalId": f"e2e-many-{n}"} for n in range(1001)]
    cases: list[Case] = [
        (
            "agent_a1",
            {"signals": [reply, bad]},
            dict.fromkeys(
                ["signals[1].kind", "signals[1].source", "signals[1].externalId"], "INVALID"
            ),
        ),
        (
            "agent_a1",
            {"signals": [{**reply, "occurredAt": "2026-11-20T10:00:00"}]},
            {"signals[0].occurredAt": "INVALID"},
        ),
        ("agent_a1", {"signals": [{**reply, "payload": [1]}]}, {"signals[0].payload": "INVALID"}),
        (
            "agent_a1",
            {"signals": [{**reply, "actionId": gid("Outcome", 1)}]},
            {"signals[0].actionId": "NOT_FOUND"},
        ),
        ("agent_a1", {"signals": []}, {"signals": "REQUIRED"}),
        ("agent_a1", {"signals": many}, {"signals": "INVALID"}),
        ("rep_a1", {"signals": [reply]}, FORBIDDEN),
        ("manager_a", {"signals": [reply]}, FORBIDDEN),
        ("partner_n", {"signals": [reply]}, FORBIDDEN),  # read-only: no write:signals
        (None, {"signals": [reply]}, {None: "UNAUTHENTICATED"}),
    ]
    check(deployment, "recordSignals", cases, [])


def test_record_outcome(deployment: Deployment) -> None:
    actions = deployment.ids.actions
    stated = {
        "actionId": gid("Action", actions["rep_a1"][2]),
        "outcomeType": "email_reply",
        "level": "positive",
    }
    cases: list[Case] = [
        (
            "agent_a1",
            {**stated, "level": "splendid", "note": "n" * 1001},
            {"level": "INVALID", "note": "INVALID"},
        ),
        ("agent_a1", {**stated, "outcomeType": "happiness"}, {"outcomeType": "INVALID"}),
        ("agent_a1", {**stated, "actionId": "%%%"}, {"actionId": "INVALID"}),
        ("rep_a1", stated, FORBIDDEN),
        ("partner_n", stated, FORBIDDEN),
    ]
    hidden = [
        {**stated, "actionId": gid("Action", action)}
        for action in (actions["rep_a2"][2], actions["rep_s1"][2], UNKNOWN)
    ]
    check(deployment, "recordOutcome", cases, [("agent_a1", hidden, {"actionId": "NOT_FOUND"})])


def test_label_outcome(deployment: Deployment) -> None:
    waiting = deployment.ids.labelling
    label = {"outcomeId": gid("Outcome", waiting["rep_a1"]), "level": "positive"}
    cases: list[Case] = [
        (
            "rep_a1",
            {**label, "level": "9", "note": "x" * 1001},
            {"level": "INVALID", "note": "INVALID"},
        ),
        ("rep_a1", {**label, "level": "splendid"}, {"level": "INVALID"}),
        ("rep_a1", {**label, "outcomeId": "%%%"}, {"outcomeId": "INVALID"}),
        ("agent_a1", label, FORBIDDEN),
        ("partner_n", label, FORBIDDEN),
    ]

    def hidden(*reps: str) -> list[dict[str, Any]]:
        return [
            {**label, "outcomeId": gid("Outcome", outcome)}
            for outcome in [waiting[rep] for rep in reps] + [UNKNOWN]
        ]

    check(
        deployment,
        "labelOutcome",
        cases,
        [
            ("rep_a1", hidden("rep_a2", "rep_b1", "rep_s1"), {"outcomeId": "NOT_FOUND"}),
            ("manager_a", hidden("rep_b1", "rep_s1"), {"outcomeId": "NOT_FOUND"}),
            ("exec_s", hidden("rep_a1"), {"outcomeId": "NOT_FOUND"}),
        ],
    )


def test_submit_feedback(deployment: Deployment) -> None:
    actions = deployment.ids.actions
    # rep_a1 rated this action 4 when the deployment was seeded: a rejected rating leaves it at 4.
    rate = {"actionId": gid("Action", actions["rep_a1"][2]), "rating": 2, "channel": "DASHBOARD"}
    cases: list[Case] = [
        (
            "rep_a1",
            {**rate, "rating": 6, "comment": "c" * 2001},
            {"rating": "INVALID", "comment": "INVALID"},
        ),
        (
            "rep_a1",
            {**rate, "rating": None, "thumb": "UP"},
            {"thumb": "INVALID", "rating": "REQUIRED"},
        ),
        ("rep_a1", {**rate, "criteria": [{"name": "tone", "rating": 4}]}, {"criteria": "INVALID"}),
        ("rep_a1", {"rating": 3, "channel": "API"}, {None: "REQUIRED"}),
        ("rep_a1", {**rate, "threadExternalId": "thread-rep_a1-label"}, {None: "INVALID"}),
        (
            "rep_a1",
            {"messageExternalId": "<rep_a1-label@mail>", "rating": 5, "channel": "GMAIL"},
            {"rating": "INVALID", "thumb": "REQUIRED"},
        ),
        ("agent_a1", rate, FORBIDDEN),
        ("partner_n", rate, FORBIDDEN),  # read-only: no write:feedback
    ]
    by_action = [
        {**rate, "actionId": gid("Action", action)}
        for action in (actions["rep_a2"][2], actions["rep_s1"][2], UNKNOWN)
    ]
    by_message = [
        {"messageExternalId": f"<{ref}@mail>", "thumb": "UP", "channel": "GMAIL"}
        for ref in ("rep_a2-label", "rep_s1-label", "nobody")
    ]
    by_thread = [
        {"threadExternalId": f"thread-{ref}", "rating": 3, "channel": "SLACK"}
        for ref in ("rep_b1-label", "rep_s1-label", "nobody")
    ]
    check(
        deployment,
        "submitFeedback",
        cases,
        [
            ("rep_a1", by_action, {"actionId": "NOT_FOUND"}),
            ("rep_a1", by_message, {"messageExternalId": "NOT_FOUND"}),
            ("manager_a", by_thread, {"threadExternalId": "NOT_FOUND"}),
        ],
    )


def policy_cases(deployment: Deployment, given: dict[str, Any]) -> list[Case]:
    return [
        ("manager_a", {**given, "agentId": "garbage"}, {"agentId": "INVALID"}),
        ("rep_a1", given, FORBIDDEN),
        ("agent_a1", given, FORBIDDEN),
        ("partner_n", given, FORBIDDEN),
        (None, given, {None: "UNAUTHENTICATED"}),
    ]


def hidden_policies(deployment: Deployment, given: dict[str, Any]) -> list[dict[str, Any]]:
    """For manager_a: another team's agent, another organisation's, an action type without a
    policy, then an unknown agent."""
    agents = deployment.ids.agents
    return [
        {**given, "agentId": gid("Agent", agents["rep_b1"])},
        {**given, "agentId": gid("Agent", agents["rep_s1"])},
        {**given, "actionType": "meeting"},
        {**given, "agentId": gid("Agent", UNKNOWN)},
    ]


def test_freeze_policy(deployment: Deployment) -> None:
    freeze = {
        "agentId": gid("Agent", deployment.ids.agents["rep_a1"]),
        "actionType": "email",
        "frozen": True,
        "reason": "pilot",
    }
    cases = [
        ("manager_a", {**freeze, "reason": "  "}, {"reason": "REQUIRED"}),
        *policy_cases(deployment, freeze),
    ]
    check(
        deployment,
        "freezePolicy",
        cases,
        [("manager_a", hidden_policies(deployment, freeze), {"agentId": "NOT_FOUND"})],
    )


def test_rollback_policy(deployment: Deployment) -> None:
    rollback = {
        "agentId": gid("Agent", deployment.ids.agents["rep_a1"]),
        "actionType": "email",
        "version": 1,
        "reason": "undo",
    }
    cases = [
        ("manager_a", {**rollback, "version": 2}, {"version": "NOT_FOUND"}),
        ("exec_n", {**rollback, "version": 0}, {"version": "NOT_FOUND"}),
        ("manager_a", {**rollback, "version": -1}, {"version": "NOT_FOUND"}),
        *policy_cases(deployment, rollback),
    ]
    check(
        deployment,
        "rollbackPolicy",
        cases,
        [("manager_a", hidden_policies(deployment, rollback), {"agentId": "NOT_FOUND"})],
    )
