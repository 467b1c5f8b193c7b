"""The hot reads use indexes that start with their scope and time, and dashboards read rollups.

EXPLAIN of every statement a dashboard or a list page issues, with sequential scans priced out
(``enable_seqscan = off``: the planner then takes any index that can serve), reads no table that
grows with history whole: every scan of one has an index condition. On a small test database the
planner would rightly scan; what this checks is that an index exists for each hot statement's
scope and range. And the dashboards' statements never name the raw tables their rollups sum."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event
from strawberry.relay import GlobalID

from tests.graphql_schema.test_no_n_plus_one import EXECUTIVE, RANGE, REP, TEAM

# Tables that grow with history (the rollups grow with days): never read by a sequential scan.
GROWING = {
    "agent_actions",
    "deals",
    "outcomes",
    "signals",
    "feedback",
    "action_stats",
    "outcome_stats",
    "feedback_stats",
    "deal_activity",
    "calibration_stats",
    "rework_stats",
    "email_engagement",
    "outcome_labels",
}
RAW = re.compile(r"\b(FROM|JOIN) (agent_actions|outcomes|signals|feedback)\b")
DASHBOARDS = 3  # the first requests
ACTIONS = """query($filter: ActionFilter) { actions(filter: $filter, first: 50) {
  edges { node { id actionType occurredAt outcomes { outcomeType status value } } } } }"""
OUTCOMES = """query($filter: OutcomeFilter) { outcomes(filter: $filter, first: 50) {
  edges { node { id outcomeType status } } } }"""


def _scans(plan: dict[str, Any]) -> Iterator[str]:
    """Tables read whole: by a sequential scan, or by an index scan with no condition on the
    index (a full index scan, which ``enable_seqscan = off`` would otherwise let through)."""
    kind = plan.get("Node Type")
    if kind == "Seq Scan" or (
        kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in plan
    ):
        yield plan["Relation Name"]
    for child in plan.get("Plans", []):
        yield from _scans(child)


async def _sequential_scans(url: str, statements: list[tuple[str, Any]]) -> dict[str, set[str]]:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("SET enable_seqscan = off")
        found = {}
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            rows = await connection.fetch(f"EXPLAIN (FORMAT JSON) {statement}", *parameters)
            plan = json.loads(rows[0][0])[0]["Plan"]
            scanned = set(_scans(plan)) & GROWING
            if scanned:
                found[statement] = scanned
        return found
    finally:
        await connection.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_hot_reads_scan_no_growing_table(api: Any) -> None:
    app = api.client.app.state.app
    agent = str(GlobalID("Agent", str(api.world.agents["rep_a1"].id)))
    team = str(GlobalID("Team", str(api.world.teams["alpha"].id)))
    requests = [
        (REP, {"agent": agent, **RANGE}, "rep_a1"),
        (TEAM, {"team": team, **RANGE}, "manager_a"),
        (EXECUTIVE, RANGE, "exec_n"),
        (ACTIONS, {"filter": {"agentId": agent}}, "rep_a1"),
        (ACTIONS, {}, "exec_n"),
        (OUTCOMES, {"filter": {"agentId": agent}}, "rep_a1"),
    ]
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, tuple(parameters or ())))

    engine = app.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for i, (query, variables, as_) in enumerate(requests):
            result = api.query(query, variables, as_=as_)
            assert "errors" not in result, result["errors"]
            if i == DASHBOARDS - 1:
                dashboards = list(seen)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(seen) > len(requests)
    # Dashboards read the rollups, never the rows they sum.
    raw = [s for s, _ in dashboards if RAW.search(s)]
    assert raw == []
    assert asyncio.run(_sequential_scans(app.settings.database_url, seen)) == {}
