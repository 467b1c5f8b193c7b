"""Mutations: each role may do exactly what it should; every rejected input lists its fields
(paths inside `input`) and changes nothing, which the row counts prove."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import func, select
from strawberry.relay import GlobalID

from backend.actions.models import AgentAction
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key
from backend.crm.models import Deal
from backend.database import create_engine, create_sessionmaker
from backend.feedback.models import COMMENT_MAX_LENGTH, Feedback
from backend.outcomes.models import Outcome, OutcomeLabel
from backend.policy.models import AgentPolicy, PolicyChange
from backend.signals.models import Signal
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.factories import NOW

ERRORS = "errors { code field message }"
RECORD_ACTION = f"""mutation($input: RecordActionInput!) {{ recordAction(input: $input) {{
  action {{ id actionType outcomes {{ id outcomeType status }} }} created calibratedConfidence
  decision policy {{ actionType escalateBelow autonomousAbove version frozen }} {ERRORS} }} }}"""
RECORD_SIGNALS = f"""mutation($input: RecordSignalsInput!) {{ recordSignals(input: $input) {{
  received stored duplicates matched resolved needsLabel late unmatched {{ source externalId }}
  {ERRORS} }} }}"""
OUTCOME = "outcome { id outcomeType status levelLabel detection } correction"
RECORD_OUTCOME = f"""mutation($input: RecordOutcomeInput!) {{ recordOutcome(input: $input) {{
  {OUTCOME} {ERRORS} }} }}"""
LABEL_OUTCOME = f"""mutation($input: LabelOutcomeInput!) {{ labelOutcome(input: $input) {{
  {OUTCOME} {ERRORS} }} }}"""
SUBMIT_FEEDBACK = f"""mutation($input: SubmitFeedbackInput!) {{ submitFeedback(input: $input) {{
  feedback {{ id targetType targetId rating comment criteria channel prompted author {{ email }} }}
  created {ERRORS} }} }}"""
POLICY = "policy { actionType escalateBelow autonomousAbove frozen version agent { name } }"
FREEZE = f"""mutation($input: FreezePolicyInput!) {{ freezePolicy(input: $input) {{
  {POLICY} {ERRORS} }} }}"""
ROLLBACK = f"""mutation($input: RollbackPolicyInput!) {{ rollbackPolicy(input: $input) {{
  {POLICY} {ERRORS} }} }}"""


def gid(type_name: str, row_id: int) -> str:
    return str(GlobalID(type_name, str(row_id)))


def ago(**delta: float) -> str:
    return (NOW - dt.timedelta(**delta)).isoformat()  # the app's clock starts at NOW


def call(api, mutation: str, payload: dict[str, Any], *, as_: str | None) -> dict[str, Any]:
    """The mutation's payload (the test fails on a GraphQL error: those are for bugs)."""
    answer = api.query(mutation, {"input": payload}, as_=as_)
    assert "errors" not in answer, answer
    return next(iter(answer["data"].values()))


def fields(payload: dict[str, Any]) -> dict[str | None, str]:
    return {e["field"]: e["code"] for e in payload["errors"]}


def rows(database_url: str, model: type, *conditions: Any) -> int:
    async def count() -> int:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                statement = select(func.count()).select_from(model).where(*conditions)
                return int(await connection.scalar(statement) or 0)
        finally:
            await engine.dispose()

    return asyncio.run(count())


def record_email(api, key: str, **extra: Any) -> dict[str, Any]:
    payload = call(
        api,
        RECORD_ACTION,
        {
            "actionType": "email",
            "confidence": 0.4,
            "idempotencyKey": key,
            "occurredAt": ago(hours=2),
            "messageExternalId": f"<{key}@mail>",
            "threadExternalId": f"thread-{key}",
            **extra,
        },
        as_="agent_a1",
    )
    assert payload["errors"] == [], payload
    return payload


def reply(key: str, external_id: str, sentiment: str) -> dict[str, Any]:
    return {
        "kind": "email.replied",
        "source": "esp",
        "externalId": external_id,
        "occurredAt": ago(hours=1),
        "messageExternalId": f"<{key}@mail>",
        "payload": {"sentiment": sentiment},
    }


# --- recordAction -----------------------------------------------------------------------------


def test_record_action_by_the_agent_key_is_idempotent(api, database_url) -> None:
    first = record_email(api, "a-1", cost={"amount": 0.02, "tokens": 900})
    assert first["created"] is True and first["decision"] in ("ACT", "REVIEW", "ESCALATE")
    assert first["action"]["actionType"] == "email" and first["calibratedConfidence"] == 0.4
    assert first["policy"] == {
        "actionType": "email",
        "escalateBelow": 0.02,
        "autonomousAbove": 0.05,
        "version": 1,
        "frozen": False,
    }
    assert sorted(o["outcomeType"] for o in first["action"]["outcomes"]) == [
        "email_delivery",
        "email_reply",
    ]
    retry = record_email(api, "a-1", confidence=0.9)
    assert retry["created"] is False and retry["action"]["id"] == first["action"]["id"]
    assert rows(database_url, AgentAction, AgentAction.idempotency_key == "a-1") == 1


def test_record_action_by_others_is_refused_and_stores_nothing(api, database_url) -> None:
    before = rows(database_url, AgentAction)
    good = {"actionType": "email", "confidence": 0.5, "idempotencyKey": "x-1"}
    for who in ("rep_a1", "manager_a", "exec_n", "partner_n"):
        assert fields(call(api, RECORD_ACTION, good, as_=who)) == {None: "FORBIDDEN"}
    other_agent = gid("Agent", api.world.agents["rep_a2"].id)
    for agent_id, code in (
        (other_agent, "NOT_FOUND"),
        (gid("Action", 1), "NOT_FOUND"),
        ("not-a-global-id", "INVALID"),
    ):
        payload = call(api, RECORD_ACTION, {**good, "agentId": agent_id}, as_="agent_a1")
        assert fields(payload) == {"agentId": code} and payload["action"] is None
    assert fields(call(api, RECORD_ACTION, good, as_=None)) == {None: "UNAUTHENTICATED"}
    assert rows(database_url, AgentAction) == before


def test_record_action_bad_input_lists_every_field_and_stores_nothing(api, database_url) -> None:
    before = (
        rows(database_url, AgentAction),
        rows(database_url, AgentPolicy),
        rows(database_url, Deal),
    )
    payload = call(
        api,
        RECORD_ACTION,
        {
            "actionType": "Send Email",
            "confidence": 1.5,
            "idempotencyKey": " ",
            "occurredAt": (NOW + dt.timedelta(days=1)).isoformat(),
            "cost": {"amount": -1, "currency": "usd", "tokens": -3},
            "dealExternalId": "d-9",
        },
        as_="agent_a1",
    )
    assert fields(payload) == dict.fromkeys(
        [
            "actionType",
            "confidence",
            "idempotencyKey",
            "occurredAt",
            "cost.amount",
            "cost.currency",
            "cost.tokens",
        ],
        "INVALID",
    )
    assert payload["action"] is None and payload["created"] is None
    not_an_object = {
        "actionType": "email",
        "confidence": 0.5,
        "idempotencyKey": "k",
        "details": [1, 2],
    }
    assert fields(call(api, RECORD_ACTION, not_an_object, as_="agent_a1")) == {"details": "INVALID"}
    nul = {**not_an_object, "idempotencyKey": "k\u0000", "details": {"note": ["\u0000"]}}
    assert fields(call(api, RECORD_ACTION, nul, as_="agent_a1")) == {
        "idempotencyKey": "INVALID",
        "details": "INVALID",
    }
    after = (
        rows(database_url, AgentAction),
        rows(database_url, AgentPolicy),
        rows(database_url, Deal),
    )
    assert after == before


# --- recordSignals ----------------------------------------------------------------------------


def test_record_signals_resolve_outcomes_and_count_duplicates(api, database_url) -> None:
    action = record_email(api, "s-1")["action"]
    stray = {
        "kind": "email.opened",
        "source": "esp",
        "externalId": "o-404",
        "occurredAt": ago(hours=1),
        "messageExternalId": "<nobody@mail>",
    }
    batch = {"signals": [reply("s-1", "r-1", "positive"), stray]}
    first = call(api, RECORD_SIGNALS, batch, as_="agent_a1")
    assert first["errors"] == [] and (first["received"], first["stored"]) == (2, 2)
    assert (first["duplicates"], first["matched"], first["resolved"]) == (0, 1, 2)
    assert first["unmatched"] == [{"source": "esp", "externalId": "o-404"}]
    outcome_ids = [int(GlobalID.from_id(o["id"]).node_id) for o in action["outcomes"]]
    assert (
        rows(database_url, Outcome, Outcome.id.in_(outcome_ids), Outcome.status == "resolved") == 2
    )
    again = call(api, RECORD_SIGNALS, batch, as_="agent_a1")
    assert (again["received"], again["stored"], again["duplicates"]) == (2, 0, 2)
    assert again["resolved"] == 0 and rows(database_url, Signal) == 2


def test_record_signals_bad_batch_or_caller_changes_nothing(api, database_url) -> None:
    record_email(api, "s-2")
    bad = {
        "signals": [
            reply("s-2", "r-2", "positive"),
            {
                "kind": "email.teleported",
                "source": "ESP!",
                "externalId": "",
                "occurredAt": ago(hours=1),
            },
            {**reply("s-2", "r-3", "positive"), "actionId": gid("Outcome", 1)},
        ]
    }
    payload = call(api, RECORD_SIGNALS, bad, as_="agent_a1")
    assert fields(payload) == {"signals[2].actionId": "NOT_FOUND"} and payload["stored"] is None
    del bad["signals"][2]["actionId"]
    assert fields(call(api, RECORD_SIGNALS, bad, as_="agent_a1")) == {
        "signals[1].kind": "INVALID",
        "signals[1].source": "INVALID",
        "signals[1].externalId": "INVALID",
    }
    assert fields(call(api, RECORD_SIGNALS, {"signals": []}, as_="agent_a1")) == {
        "signals": "REQUIRED"
    }
    good = {"signals": [reply("s-2", "r-2", "positive")]}
    for who in ("rep_a1", "manager_a", "partner_n"):  # people never; partners need write:signals
        assert fields(call(api, RECORD_SIGNALS, good, as_=who)) == {None: "FORBIDDEN"}
    assert rows(database_url, Signal) == 0
    assert rows(database_url, Outcome, Outcome.status != "open") == 0


# --- recordOutcome and labelOutcome -----------------------------------------------------------


def test_record_outcome_by_the_agent_key(api, database_url) -> None:
    recorded = call(
        api,
        RECORD_ACTION,
        {
            "actionType": "meeting",
            "confidence": 0.7,
            "idempotencyKey": "m-1",
            "occurredAt": ago(hours=3),
        },
        as_="agent_a1",
    )
    action_id = recorded["action"]["id"]
    stated = {"actionId": action_id, "outcomeType": "meeting_attendance", "level": "positive"}
    before = rows(database_url, OutcomeLabel)
    for who in ("rep_a1", "partner_n"):
        assert fields(call(api, RECORD_OUTCOME, stated, as_=who)) == {None: "FORBIDDEN"}
    bad = call(
        api, RECORD_OUTCOME, {**stated, "level": "splendid", "note": "n" * 1001}, as_="agent_a1"
    )
    assert fields(bad) == {"level": "INVALID", "note": "INVALID"}
    other = gid("Action", api.world.actions["rep_a2"][0].id)
    assert fields(call(api, RECORD_OUTCOME, {**stated, "actionId": other}, as_="agent_a1")) == {
        "actionId": "NOT_FOUND"
    }
    assert rows(database_url, OutcomeLabel) == before
    assert rows(database_url, Outcome, Outcome.status == "resolved") == 0
    done = call(api, RECORD_OUTCOME, stated, as_="agent_a1")
    assert done["errors"] == [] and done["correction"] is False
    assert done["outcome"]["status"] == "RESOLVED" and done["outcome"]["levelLabel"] == "positive"
    corrected = call(api, RECORD_OUTCOME, {**stated, "level": "0"}, as_="agent_a1")
    assert corrected["correction"] is True and corrected["outcome"]["levelLabel"] == "negative"
    assert rows(database_url, OutcomeLabel) == before + 2


def test_label_outcome_within_scope_only(api, database_url) -> None:
    action = record_email(api, "l-1")["action"]
    unsure = call(
        api, RECORD_SIGNALS, {"signals": [reply("l-1", "r-9", "unknown")]}, as_="agent_a1"
    )
    assert unsure["needsLabel"] == 1
    reply_outcome = next(o for o in action["outcomes"] if o["outcomeType"] == "email_reply")
    label = {"outcomeId": reply_outcome["id"], "level": "positive", "note": "booked a call"}
    outcome_id = int(GlobalID.from_id(reply_outcome["id"]).node_id)
    for who in ("rep_a2", "rep_b1", "rep_s1", "exec_s"):  # another rep, team, organisation
        assert fields(call(api, LABEL_OUTCOME, label, as_=who)) == {"outcomeId": "NOT_FOUND"}
    for who in ("agent_a1", "partner_n"):
        assert fields(call(api, LABEL_OUTCOME, label, as_=who)) == {None: "FORBIDDEN"}
    malformed = call(api, LABEL_OUTCOME, {**label, "outcomeId": "%%%"}, as_="rep_a1")
    assert fields(malformed) == {"outcomeId": "INVALID"}
    assert fields(call(api, LABEL_OUTCOME, {**label, "level": "9"}, as_="rep_a1")) == {
        "level": "INVALID"
    }
    assert rows(database_url, OutcomeLabel) == 0
    assert (
        rows(database_url, Outcome, Outcome.id == outcome_id, Outcome.status == "needs_label") == 1
    )
    labelled = call(api, LABEL_OUTCOME, label, as_="rep_a1")
    assert labelled["errors"] == [] and labelled["correction"] is False
    assert labelled["outcome"]["status"] == "RESOLVED"
    assert labelled["outcome"]["detection"] == "HUMAN"
    corrected = call(api, LABEL_OUTCOME, {**label, "level": "negative"}, as_="manager_a")
    assert corrected["correction"] is True and corrected["outcome"]["levelLabel"] == "negative"
    assert rows(database_url, OutcomeLabel, OutcomeLabel.outcome_id == outcome_id) == 2


# --- submitFeedback ---------------------------------------------------------------------------


def partner_with_write_feedback(api, database_url) -> None:
    async def create() -> str:
        engine = create_engine(database_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                north = Viewer.system(api.world.orgs["north"].id)
                created = await create_api_key(
                    session,
                    viewer=north,
                    kind=ApiClientKind.PARTNER,
                    name="slack-app",
                    scopes=["write:feedback", "read:feedback"],
                )
                return created.key
        finally:
            await engine.dispose()

    api.tokens["partner_fb"] = asyncio.run(create())


def test_submit_feedback_on_each_target_and_again_updates(api, database_url) -> None:
    record_email(api, "f-1")
    action_id = gid("Action", api.world.actions["rep_a1"][0].id)
    rated = call(
        api,
        SUBMIT_FEEDBACK,
        {"actionId": action_id, "rating": 4, "channel": "DASHBOARD", "prompted": True},
        as_="rep_a1",
    )
    assert rated["errors"] == [] and rated["created"] is True
    assert (
        rated["feedback"]["targetType"] == "ACTION" and rated["feedback"]["targetId"] == action_id
    )
    again = call(
        api,
        SUBMIT_FEEDBACK,
        {"actionId": action_id, "rating": 2, "comment": "too pushy", "channel": "SLACK"},
        as_="rep_a1",
    )
    assert again["created"] is False and again["feedback"]["id"] == rated["feedback"]["id"]
    assert (again["feedback"]["rating"], again["feedback"]["comment"]) == (2, "too pushy")
    # It answered a prompt once: changing it elsewhere keeps it `prompted`.
    assert again["feedback"]["channel"] == "SLACK" and again["feedback"]["prompted"] is True
    by_manager = call(
        api,
        SUBMIT_FEEDBACK,
        {"actionId": action_id, "rating": 5, "channel": "DASHBOARD"},
        as_="manager_a",
    )
    assert by_manager["created"] is True
    assert by_manager["feedback"]["author"]["email"] == "manager_a@north.example"
    thumb = call(
        api,
        SUBMIT_FEEDBACK,
        {"messageExternalId": "<f-1@mail>", "thumb": "UP", "channel": "GMAIL"},
        as_="rep_a1",
    )
    assert thumb["errors"] == [] and thumb["feedback"]["targetType"] == "MESSAGE"
    assert thumb["feedback"]["rating"] == 1
    review = call(
        api,
        SUBMIT_FEEDBACK,
        {
            "threadExternalId": "thread-f-1",
            "rating": 3,
            "channel": "DASHBOARD",
            "criteria": [{"name": "tone", "rating": 4}, {"name": "next_step", "rating": 2}],
        },
        as_="exec_n",
    )
    assert review["errors"] == [] and review["feedback"]["targetType"] == "CONVERSATION"
    assert review["feedback"]["criteria"] == {"tone": 4, "next_step": 2}
    assert rows(database_url, Feedback) == 4


def test_submit_feedback_rejections_change_nothing(api, database_url) -> None:
    record_email(api, "f-2")
    action_id = gid("Action", api.world.actions["rep_a1"][1].id)
    rate = {"actionId": action_id, "rating": 4, "channel": "DASHBOARD"}
    cases = [
        ({**rate, "rating": 6}, {"rating": "INVALID"}),
        ({**rate, "thumb": "UP", "rating": None}, {"thumb": "INVALID", "rating": "REQUIRED"}),
        ({**rate, "comment": "x" * (COMMENT_MAX_LENGTH + 1)}, {"comment": "INVALID"}),
        ({**rate, "criteria": [{"name": "tone", "rating": 4}]}, {"criteria": "INVALID"}),
        (
            {"messageExternalId": "<f-2@mail>", "rating": 5, "channel": "GMAIL"},
            {"rating": "INVALID", "thumb": "REQUIRED"},
        ),
        (
            {
                "threadExternalId": "thread-f-2",
                "rating": 0,
                "channel": "DASHBOARD",
                "criteria": [
                    {"name": "Tone", "rating": 9},
                    {"name": "tone", "rating": 3},
                    {"name": "tone", "rating": 3},
                ],
            },
            {
                "rating": "INVALID",
                "criteria[0].name": "INVALID",
                "criteria[0].rating": "INVALID",
                "criteria[2].name": "INVALID",
            },
        ),
        ({"rating": 3, "channel": "API"}, {None: "REQUIRED"}),
        ({**rate, "threadExternalId": "thread-f-2"}, {None: "INVALID"}),
        (
            {**rate, "actionId": gid("Action", api.world.actions["rep_a2"][0].id)},
            {"actionId": "NOT_FOUND"},
        ),
        (
            {**rate, "actionId": gid("Agent", api.world.agents["rep_a1"].id)},
            {"actionId": "NOT_FOUND"},
        ),
        ({**rate, "actionId": gid("Action", 10**30)}, {"actionId": "NOT_FOUND"}),
        (
            {"messageExternalId": "<unknown@mail>", "thumb": "DOWN", "channel": "GMAIL"},
            {"messageExternalId": "NOT_FOUND"},
        ),
        ({**rate, "authorEmail": "rep_a2@north.example"}, {"authorEmail": "INVALID"}),
    ]
    for given, expected in cases:
        assert fields(call(api, SUBMIT_FEEDBACK, given, as_="rep_a1")) == expected, given
    for who in ("agent_a1", "partner_n"):
        assert fields(call(api, SUBMIT_FEEDBACK, rate, as_=who)) == {None: "FORBIDDEN"}
    assert fields(call(api, SUBMIT_FEEDBACK, rate, as_="rep_s1")) == {"actionId": "NOT_FOUND"}
    assert rows(database_url, Feedback) == 0


def test_partner_feedback_names_its_author_and_redeliveries_count_once(api, database_url) -> None:
    partner_with_write_feedback(api, database_url)
    record_email(api, "f-3")
    thumb = {
        "messageExternalId": "<f-3@mail>",
        "thumb": "DOWN",
        "channel": "SLACK",
        "externalId": "slack-1",
    }
    assert fields(call(api, SUBMIT_FEEDBACK, thumb, as_="partner_fb")) == {
        "authorEmail": "REQUIRED"
    }
    outsider = call(
        api, SUBMIT_FEEDBACK, {**thumb, "authorEmail": "rep_b1@north.example"}, as_="partner_fb"
    )
    assert fields(outsider) == {"messageExternalId": "NOT_FOUND"}  # checked in the author's scope
    foreign = call(
        api, SUBMIT_FEEDBACK, {**thumb, "authorEmail": "rep_s1@south.example"}, as_="partner_fb"
    )
    assert fields(foreign) == {"authorEmail": "NOT_FOUND"}
    assert rows(database_url, Feedback) == 0
    relayed = {**thumb, "authorEmail": "rep_a1@north.example"}
    first = call(api, SUBMIT_FEEDBACK, relayed, as_="partner_fb")
    assert (
        first["created"] is True and first["feedback"]["author"]["email"] == "rep_a1@north.example"
    )
    redelivered = call(api, SUBMIT_FEEDBACK, {**relayed, "thumb": "UP"}, as_="partner_fb")
    assert redelivered["created"] is False and redelivered["feedback"]["rating"] == 0
    other_target = {
        **relayed,
        "messageExternalId": None,
        "threadExternalId": "thread-f-3",
        "thumb": None,
        "rating": 4,
    }
    assert fields(call(api, SUBMIT_FEEDBACK, other_target, as_="partner_fb")) == {
        "externalId": "CONFLICT"
    }
    changed = call(
        api, SUBMIT_FEEDBACK, {**relayed, "thumb": "UP", "externalId": "slack-2"}, as_="partner_fb"
    )
    assert changed["created"] is False and changed["feedback"]["rating"] == 1
    assert rows(database_url, Feedback) == 1


# --- freezePolicy and rollbackPolicy ----------------------------------------------------------


def test_freeze_and_rollback_policy_by_managers_within_scope(api, database_url) -> None:
    record_email(api, "p-1")  # the email policy of rep_a1's agent exists from now on
    mine = gid("Agent", api.world.agents["rep_a1"].id)
    freeze = {"agentId": mine, "actionType": "email", "frozen": True, "reason": "holiday season"}
    rollback = {"agentId": mine, "actionType": "email", "version": 1, "reason": "undo"}
    for who in ("rep_a1", "agent_a1", "partner_n"):
        assert fields(call(api, FREEZE, freeze, as_=who)) == {None: "FORBIDDEN"}
        assert fields(call(api, ROLLBACK, rollback, as_=who)) == {None: "FORBIDDEN"}
    elsewhere = {"agentId": gid("Agent", api.world.agents["rep_b1"].id)}
    assert fields(call(api, FREEZE, {**freeze, **elsewhere}, as_="manager_a")) == {
        "agentId": "NOT_FOUND"
    }
    assert fields(call(api, ROLLBACK, {**rollback, **elsewhere}, as_="manager_a")) == {
        "agentId": "NOT_FOUND"
    }
    assert fields(call(api, FREEZE, {**freeze, "reason": "  "}, as_="manager_a")) == {
        "reason": "REQUIRED"
    }
    assert fields(call(api, ROLLBACK, {**rollback, "version": 7}, as_="manager_a")) == {
        "version": "NOT_FOUND"
    }
    assert rows(database_url, PolicyChange) == 1
    frozen = call(api, FREEZE, freeze, as_="manager_a")
    assert frozen["errors"] == [] and frozen["policy"]["frozen"] is True
    assert frozen["policy"]["version"] == 2 and frozen["policy"]["agent"]["name"] == "agent_rep_a1"
    thawed = call(api, FREEZE, {**freeze, "frozen": False}, as_="exec_n")
    assert thawed["policy"] == {**frozen["policy"], "frozen": False, "version": 3}
    rolled = call(api, ROLLBACK, rollback, as_="manager_a")
    assert rolled["errors"] == [] and rolled["policy"]["version"] == 4
    assert rolled["policy"]["frozen"] is True and rolled["policy"]["escalateBelow"] == 0.02
    assert rows(database_url, PolicyChange, PolicyChange.changed_by == "user") == 3
