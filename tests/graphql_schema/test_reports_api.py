"""Periodic reports over GraphQL: subscriptions with field-named errors, the run log with its
deliveries, the preview (HTML, text, images inline), scoped to the viewer."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from strawberry.relay import GlobalID

from backend.database import create_engine
from backend.reports.runs import run_due_reports
from backend.settings import load_settings
from backend.state import AppState
from tests.backend.reports.conftest import quick_render
from tests.graphql_schema.conftest import Api

UPSERT = """mutation($input: UpsertReportSubscriptionInput!) {
  upsertReportSubscription(input: $input) {
    subscription { id kind teamId timezone sendHour weekday channels enabled }
    errors { code field message } } }"""
SUBSCRIPTIONS = "{ reportSubscriptions(first: 10) { totalCount edges { node { id kind } } } }"
RUNS = """{ reportRuns(first: 10) { edges { node { kind periodStart periodEnd recipient status
  error deliveries { channel status attempts lastError } } } } }"""
PREVIEW = """query($team: ID) { reportPreview(kind: MANAGER_DAILY, teamId: $team,
  period: "2026-11-01") { subject html text htmlWithImages charts { cid title } } }"""
DELETE = """mutation($id: ID!) { deleteReportSubscription(input: {id: $id}) {
  subscription { id } errors { code field } } }"""


def gid(kind: str, row_id: int) -> str:
    return str(GlobalID(kind, str(row_id)))


def upsert(api: Api, as_: str, **given: Any) -> dict[str, Any]:
    answer = api.query(UPSERT, {"input": given}, as_=as_)
    assert "errors" not in answer, answer
    return answer["data"]["upsertReportSubscription"]


def test_subscribe_list_run_log_and_delete(api: Api, database_url: str) -> None:
    alpha = gid("Team", api.world.teams["alpha"].id)
    bad = upsert(api, "manager_a", kind="MANAGER_DAILY", teamId=alpha, timezone="Nowhere/City")
    assert bad["subscription"] is None
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [("INVALID", "timezone")]
    made = upsert(
        api, "manager_a", kind="MANAGER_DAILY", teamId=alpha, timezone="Europe/Berlin", sendHour=7
    )
    assert made["errors"] == []
    subscription = made["subscription"]
    assert (subscription["kind"], subscription["teamId"], subscription["weekday"]) == (
        "MANAGER_DAILY",
        alpha,
        None,
    )
    # As a node: its owner sees it, another organisation's person or a rep does not.
    node = "query($id: ID!) { node(id: $id) { ... on ReportSubscription { kind timezone } } }"
    found = api.query(node, {"id": subscription["id"]}, as_="manager_a")["data"]["node"]
    assert found == {"kind": "MANAGER_DAILY", "timezone": "Europe/Berlin"}
    for stranger in ("rep_a1", "exec_s"):
        assert api.query(node, {"id": subscription["id"]}, as_=stranger)["data"]["node"] is None
    listed = api.query(SUBSCRIPTIONS, as_="manager_a")["data"]["reportSubscriptions"]
    assert [e["node"]["id"] for e in listed["edges"]] == [subscription["id"]]
    assert api.query(SUBSCRIPTIONS, as_="rep_a1")["data"]["reportSubscriptions"]["totalCount"] == 0
    assert api.query(SUBSCRIPTIONS, as_="exec_n")["data"]["reportSubscriptions"]["totalCount"] == 1
    # The worker runs it two days later; the log shows it to its recipient only.
    settings = load_settings(database_url=database_url)

    async def work() -> None:
        engine = create_engine(database_url)
        try:
            from backend.pubsub import InProcessBroker

            state = AppState.assemble(settings, engine, InProcessBroker())
            await run_due_reports(state, now=api.now() + dt.timedelta(days=2), render=quick_render)
        finally:
            await engine.dispose()

    asyncio.run(work())
    (run,) = [e["node"] for e in api.query(RUNS, as_="manager_a")["data"]["reportRuns"]["edges"]]
    assert (run["kind"], run["recipient"], run["status"]) == (
        "MANAGER_DAILY",
        "manager_a@north.example",
        "QUEUED",
    )
    assert run["deliveries"] == [
        {"channel": "EMAIL", "status": "PENDING", "attempts": 0, "lastError": None}
    ]
    assert api.query(RUNS, as_="rep_a1")["data"]["reportRuns"]["edges"] == []
    denied = api.query(DELETE, {"id": subscription["id"]}, as_="rep_a1")
    assert denied["data"]["deleteReportSubscription"]["errors"] == [
        {"code": "NOT_FOUND", "field": "id"}
    ]
    gone = api.query(DELETE, {"id": subscription["id"]}, as_="manager_a")
    assert gone["data"]["deleteReportSubscription"]["errors"] == []
    assert api.query(RUNS, as_="manager_a")["data"]["reportRuns"]["edges"] == []


def test_preview_renders_for_the_viewer_with_images_inline(api: Api) -> None:
    alpha = gid("Team", api.world.teams["alpha"].id)
    answer = api.query(PREVIEW, {"team": alpha}, as_="manager_a")
    assert "errors" not in answer, answer
    preview = answer["data"]["reportPreview"]
    assert preview["subject"] and preview["text"]
    assert preview["charts"]
    for chart in preview["charts"]:
        assert f"cid:{chart['cid']}" in preview["html"]
        assert f"cid:{chart['cid']}" not in preview["htmlWithImages"]
    assert "data:image/png;base64," in preview["htmlWithImages"]
    # Drawing a report weighs 50 (a second of CPU), not 1 like a plain object (+1: its charts).
    cost = answer["extensions"]["cost"]
    assert cost["requestedQueryCost"] == cost["actualQueryCost"] == 51
    # Another team is out of the manager's sight.
    beta = gid("Team", api.world.teams["beta"].id)
    refused = api.query(PREVIEW, {"team": beta}, as_="manager_a")
    assert refused["errors"][0]["extensions"]["code"] == "not_found"
