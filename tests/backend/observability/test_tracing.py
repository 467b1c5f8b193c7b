"""OpenTelemetry tracing, the optional `otel` extra: off without `OTEL_EXPORTER_OTLP_ENDPOINT`
(or without the packages); on, a GraphQL request gives an operation span with the SQL it ran
inside it, and outgoing HTTP through urllib is traced. Spans go to an in-memory exporter here,
in place of OTLP."""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from starlette.testclient import TestClient

from backend.app import create_app
from backend.database import create_engine
from backend.observability import tracing
from backend.settings import load_settings


def test_without_an_endpoint_nothing_changes(
    monkeypatch: pytest.MonkeyPatch, sqlite_database_url: str
) -> None:
    monkeypatch.delenv(tracing.ENDPOINT_VARIABLE, raising=False)
    assert not tracing.enabled()
    assert tracing.graphql_extensions() == []
    engine = create_engine(sqlite_database_url)
    try:
        assert tracing.trace_engine(engine, service="test") is False
    finally:
        asyncio.run(engine.dispose())


needs_otel = pytest.mark.skipif(
    not tracing.installed(), reason="the otel extra is not installed (pip install '.[otel]')"
)


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Tracing on, its spans kept in memory."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    monkeypatch.setenv(tracing.ENDPOINT_VARIABLE, "http://127.0.0.1:4318")  # never reached
    memory = InMemorySpanExporter()
    if tracing._provider is None:
        assert tracing.start_tracing(service="tests", exporter=memory)
    else:  # an earlier test of this process started it: listen in as well
        tracing._provider.add_span_processor(SimpleSpanProcessor(memory))
    yield memory
    memory.clear()


@needs_otel
def test_a_graphql_request_is_traced_with_its_sql(spans: Any, sqlite_database_url: str) -> None:
    settings = load_settings(database_url=sqlite_database_url, worker_in_process=False)
    with TestClient(create_app(settings)) as client:
        response = client.post("/graphql", json={"query": "query Probe { health { ok } }"})
    assert response.json()["data"]["health"]["ok"] is True
    finished = spans.get_finished_spans()
    [operation] = [s for s in finished if s.name == "GraphQL Query: Probe"]
    sql = [
        s for s in finished if s.attributes.get("db.system") or s.attributes.get("db.system.name")
    ]
    assert sql, [s.name for s in finished]
    # The readiness probe's SQL ran inside the operation (under the `health` field's span).
    [probe] = [s for s in sql if s.attributes.get("db.statement") == "SELECT 1"]
    [field] = [s for s in finished if s.name == "GraphQL Resolving: health"]
    assert probe.parent is not None and probe.parent.span_id == field.context.span_id
    assert field.parent is not None and field.parent.span_id == operation.context.span_id
    assert probe.context.trace_id == operation.context.trace_id


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@needs_otel
def test_outgoing_http_through_urllib_is_traced(spans: Any) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/keys"
        with urllib.request.urlopen(url, timeout=5) as answer:
            assert answer.read() == b"ok"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    [call] = [s for s in spans.get_finished_spans() if s.kind.name == "CLIENT" and "GET" in s.name]
    assert (
        call.attributes.get("http.response.status_code", call.attributes.get("http.status_code"))
        == 200
    )


class _Received(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@needs_otel
def test_a_partner_webhook_post_is_traced_without_its_query(spans: Any) -> None:
    """Partner webhooks go out over http.client, which no instrumentation sees: their own span."""
    from backend.partner_webhooks.delivery import _post

    server = HTTPServer(("127.0.0.1", 0), _Received)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hooks?token=partner-secret"
        status = _post(
            url,
            b"{}",
            {"Content-Type": "application/json"},
            5.0,
            resolve=lambda host, port: ["127.0.0.1"],
            allow_private=True,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert status == 204
    [post] = [s for s in spans.get_finished_spans() if s.name == "POST"]
    assert post.kind.name == "CLIENT"
    assert post.attributes["http.response.status_code"] == 204
    assert post.attributes["url.full"] == f"http://127.0.0.1:{server.server_port}/hooks"
    assert "partner-secret" not in str(dict(post.attributes))
