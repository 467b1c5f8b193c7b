"""`GET /metrics` scraped through the real app: its counters move with the work (HTTP requests,
GraphQL operations with their cost, errors by code, worker job runs) and its queue-depth gauges
equal the rows waiting in the database."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket

import pytest
from starlette.testclient import TestClient

from backend import worker
from backend.app import create_app
from backend.database import create_engine, create_sessionmaker
from backend.handlers import open_state
from backend.notifications.models import Notification
from backend.observability.metrics import operation_label, start_metrics_server
from backend.outcomes.models import Outcome
from backend.prompts.models import FeedbackPrompt
from backend.settings import load_settings
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.worker import JOBS, Job, run_jobs_once
from tests.backend.observability.conftest import Served, samples, scrape, value
from tests.factories import NOW, TestClock, build_world

HEALTH = "query Probe { health { ok } }"


def test_a_query_counts_its_request_its_operation_and_its_cost(served: Served) -> None:
    before = scrape(served.client)
    response = served.client.post("/graphql", json={"query": HEALTH})
    assert response.status_code == 200
    cost = response.json()["extensions"]["cost"]["actualQueryCost"]
    assert cost > 0
    after = scrape(served.client)

    def moved(metric: str, /, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    assert moved("graphql_operations_total", type="query", name="Probe") == 1
    assert moved("graphql_operation_cost_total", type="query", name="Probe") == cost
    # By route template and status; the scrape before this one counted itself too.
    assert moved("http_requests_total", method="POST", route="/graphql", status="200") == 1
    assert moved("http_requests_total", method="GET", route="/metrics", status="200") == 1
    assert moved("http_request_duration_seconds_count", method="POST", route="/graphql") == 1


def test_failed_operations_count_their_errors_by_code(served: Served) -> None:
    before = scrape(served.client)
    unauthenticated = served.client.post(
        "/graphql", json={"query": "query Me { viewer { __typename } }"}
    )
    assert unauthenticated.json()["errors"][0]["extensions"]["code"] == "unauthenticated"
    invalid = served.client.post("/graphql", json={"query": "query Broken { nothing }"})
    assert invalid.json()["errors"][0]["extensions"]["code"] == "invalid"
    after = scrape(served.client)
    assert (
        value(after, "graphql_errors_total", code="unauthenticated")
        - value(before, "graphql_errors_total", code="unauthenticated")
        == 1
    )
    assert (
        value(after, "graphql_errors_total", code="invalid")
        - value(before, "graphql_errors_total", code="invalid")
        == 1
    )
    assert (
        value(after, "graphql_operations_total", type="query", name="Me")
        - value(before, "graphql_operations_total", type="query", name="Me")
        == 1
    )


def test_paths_without_a_route_share_one_series(served: Served) -> None:
    served.client.get("/graphql/no/such/thing/42")
    page = scrape(served.client)
    routes = {dict(labels).get("route") for name, labels in page if name == "http_requests_total"}
    assert not any(route and "42" in route for route in routes)


def test_client_operation_names_cannot_grow_the_series_without_bound() -> None:
    assert operation_label(None) == "anonymous"
    assert operation_label("x" * 65) == "other"
    assert operation_label("Bad-Name") == "other"
    assert operation_label("Dashboard") == "Dashboard"


async def _seed_queues(url: str) -> dict[str, int]:
    """Rows waiting in four queues, beside rows that wait no more; the expected depths."""
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            world = await build_world(session, actions_per_agent=3)
            actions = [a for key in ("rep_a1", "rep_a2") for a in world.actions[key]]
            for i, (status, due) in enumerate(
                [
                    ("open", -dt.timedelta(hours=2)),  # due: the worker is to close it
                    ("open", -dt.timedelta(minutes=1)),  # due
                    ("open", dt.timedelta(days=3)),  # not yet due
                    ("needs_label", -dt.timedelta(days=1)),  # in the labelling queue
                    ("needs_label", -dt.timedelta(days=2)),
                    ("needs_label", -dt.timedelta(days=2)),
                ]
            ):
                action = actions[i]
                session.add(
                    Outcome(
                        organization_id=action.organization_id,
                        agent_id=action.agent_id,
                        action_id=action.id,
                        action_type="email",
                        outcome_type="email_reply",
                        window="engagement_7d",
                        scale="binary",
                        status=status,
                        detection="pending_label" if status == "needs_label" else "automatic",
                        opened_at=NOW - dt.timedelta(days=7),
                        due_at=NOW + due,
                    )
                )
            manager = world.users["manager_a"]
            for action, state in zip(actions, ("open", "open", "expired"), strict=False):
                session.add(
                    FeedbackPrompt(
                        organization_id=action.organization_id,
                        agent_id=action.agent_id,
                        action_id=action.id,
                        user_id=manager.id,
                        reason="critical_action",
                        state=state,
                        created_at=NOW - dt.timedelta(hours=1),
                        expires_at=NOW + dt.timedelta(hours=1),
                    )
                )
            for i, status in enumerate(("pending", "pending", "failed")):
                session.add(
                    Notification(
                        organization_id=manager.organization_id,
                        user_id=manager.id,
                        address=manager.email,
                        subject="alert",
                        body_text="text",
                        body_html="<p>html</p>",
                        change="created",
                        idempotency_key=f"metrics-test-{i}",
                        status=status,
                    )
                )
    finally:
        await engine.dispose()
    return {
        "windows_due": 2,
        "label_queue": 3,
        "open_prompts": 2,
        "notifications_pending": 2,
        "slack_alerts_pending": 0,
        "partner_webhooks_pending": 0,
        "report_deliveries_pending": 0,
    }


def test_queue_depths_are_the_rows_waiting(served: Served) -> None:
    expected = asyncio.run(_seed_queues(served.settings.database_url))
    page = scrape(served.client)
    depths = {queue: value(page, "queue_depth", queue=queue) for queue in expected}
    assert depths == expected
    assert value(page, "live_subscribers") == 0


async def _run_jobs(state: AppState) -> dict[str, int]:
    try:
        return await run_jobs_once(state, now=NOW)
    finally:
        await state.close()


def test_worker_job_runs_move_the_job_counters(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_seed_queues(served.settings.database_url))

    async def always_fails(state: AppState, now: dt.datetime) -> int:
        raise RuntimeError("this job always fails")

    monkeypatch.setattr(
        worker, "JOBS", (*JOBS, Job("always_fails", always_fails, dt.timedelta(minutes=1)))
    )
    before = scrape(served.client)
    done = asyncio.run(_run_jobs(open_state(served.settings, clock=TestClock())))
    after = scrape(served.client)

    def moved(name: str, job: str) -> float:
        return value(after, name, job=job) - value(before, name, job=job)

    assert done["always_fails"] == -1
    assert moved("worker_job_runs_total", "always_fails") == 1
    assert moved("worker_job_failures_total", "always_fails") == 1
    for job in JOBS:
        assert moved("worker_job_runs_total", job.name) == 1, job.name
        assert moved("worker_job_duration_seconds_count", job.name) == 1, job.name
        assert moved("worker_job_failures_total", job.name) == (done[job.name] < 0), job.name
        assert moved("worker_job_items_total", job.name) == max(done[job.name], 0), job.name
    assert done["close_expired_windows"] == 2  # the two windows due
    # Once closed they wait no more.
    assert value(after, "queue_depth", queue="windows_due") == 0


def test_metrics_token_is_required_when_set(sqlite_database_url: str) -> None:
    settings = load_settings(
        database_url=sqlite_database_url, worker_in_process=False, metrics_token="scrape-me-42"
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        page = scrape(client, Authorization="Bearer scrape-me-42")
        assert ("queue_depth", frozenset({("queue", "windows_due")})) in page


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _fetch(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


def test_the_worker_serves_its_metrics_on_its_port(sqlite_database_url: str) -> None:
    port = _free_port()
    settings = load_settings(
        database_url=sqlite_database_url, worker_metrics_port=port, metrics_token="w-token-42"
    )

    async def scenario() -> tuple[bytes, bytes, bytes]:
        server = await start_metrics_server(settings, host="127.0.0.1")
        assert server is not None
        try:
            refused = await _fetch(port, b"GET /metrics HTTP/1.1\r\nHost: w\r\n\r\n")
            elsewhere = await _fetch(port, b"GET / HTTP/1.1\r\n\r\n")
            page = await _fetch(
                port, b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer w-token-42\r\n\r\n"
            )
        finally:
            server.close()
            await server.wait_closed()
        return refused, elsewhere, page

    refused, elsewhere, page = asyncio.run(scenario())
    assert refused.startswith(b"HTTP/1.0 401")
    assert elsewhere.startswith(b"HTTP/1.0 404")
    assert page.startswith(b"HTTP/1.0 200")
    body = page.split(b"\r\n\r\n", 1)[1].decode()
    assert "# TYPE worker_job_runs_total counter" in body
    samples(body)  # parses as the text exposition format


def test_the_worker_serves_no_metrics_without_a_port(sqlite_database_url: str) -> None:
    settings = load_settings(database_url=sqlite_database_url)
    assert asyncio.run(start_metrics_server(settings)) is None
