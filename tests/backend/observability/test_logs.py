"""Structured logs: the request id given in `X-Request-ID` (or made when it is missing or not a
sane token) is in the response header, in each JSON log line written while serving, and in a
masked GraphQL error's `requestId`; a worker job's lines carry its job run id."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from backend import worker
from backend.access_log import redact_access_log
from backend.handlers import open_state
from backend.observability.logs import configure_logging, formatter, logging_config
from backend.observability.request_id import sane_request_id
from backend.settings import load_settings
from backend.state import AppState
from backend.worker import Job, run_jobs_once
from tests.backend.observability.conftest import Served
from tests.factories import NOW, TestClock


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root logger writes, one JSON object per line (as `LOG_FORMAT=json` writes)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def _break_health(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug behind the `health` field: its error is masked, with the request id."""

    async def broken(state: object) -> object:
        raise RuntimeError("SELECT secret FROM somewhere")

    monkeypatch.setattr("graphql_schema.health.queries.check_readiness", broken)


def test_the_request_id_given_is_in_the_header_the_logs_and_the_masked_error(
    served: Served, json_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break_health(monkeypatch)
    request_id = "3f2c9a1e-7b4d-4e0a-9c1b-2d5e8f6a7b01"
    response = served.client.post(
        "/graphql", json={"query": "{ health { ok } }"}, headers={"X-Request-ID": request_id}
    )
    assert response.headers["x-request-id"] == request_id
    error = response.json()["errors"][0]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "internal", "requestId": request_id}
    # The masking extension's line and Strawberry's own: each with the request id.
    lines = [r for r in records(json_lines) if "SELECT secret" in r.get("exception", "")]
    assert lines and all(r["request_id"] == request_id for r in lines)
    [masked] = [r for r in lines if r["logger"] == "graphql_schema"]
    assert masked["level"] == "error" and request_id in masked["event"]
    assert "timestamp" in masked


@pytest.mark.parametrize(
    "given",
    ["x" * 129, "abc\x01def", "two words", "<script>", "", "-leading-dash"],
    ids=["too-long", "control-character", "space", "markup", "empty", "leading-dash"],
)
def test_a_bad_request_id_is_replaced_by_a_generated_one(
    served: Served, json_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    _break_health(monkeypatch)
    response = served.client.post(
        "/graphql", json={"query": "{ health { ok } }"}, headers={"X-Request-ID": given}
    )
    made = response.headers["x-request-id"]
    assert made != given and sane_request_id(made) == made
    assert response.json()["errors"][0]["extensions"]["requestId"] == made
    assert any(r.get("request_id") == made for r in records(json_lines))


def test_without_a_request_id_one_is_made_for_each_request(served: Served) -> None:
    first = served.client.get("/healthz").headers["x-request-id"]
    second = served.client.get("/healthz").headers["x-request-id"]
    assert first != second
    assert sane_request_id(first) == first


def test_sane_request_ids() -> None:
    assert sane_request_id("req-42") == "req-42"
    assert sane_request_id("Root=1-abc") is None  # "=" is not among the allowed characters
    assert sane_request_id("a" * 128) == "a" * 128
    assert sane_request_id("a" * 129) is None
    assert sane_request_id(None) is None


def test_a_websocket_connection_gets_its_request_id(served: Served) -> None:
    with served.client.websocket_connect(
        "/graphql", subprotocols=["graphql-transport-ws"], headers={"X-Request-ID": "ws-conn-7"}
    ) as socket:
        assert dict(socket.extra_headers)[b"x-request-id"] == b"ws-conn-7"


async def _jobs(state: AppState) -> dict[str, int]:
    try:
        return await run_jobs_once(state, now=NOW)
    finally:
        await state.close()


def test_a_worker_job_logs_with_its_job_run_id(
    served: Served, json_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def noisy(state: AppState, now: dt.datetime) -> int:
        logging.getLogger("backend.test_job").info("working")
        raise RuntimeError("and failing")

    monkeypatch.setattr(worker, "JOBS", (Job("noisy", noisy, dt.timedelta(minutes=1)),) * 2)
    asyncio.run(_jobs(open_state(served.settings, clock=TestClock())))
    lines = [r for r in records(json_lines) if r.get("job") == "noisy"]
    working = [r for r in lines if r["event"] == "working"]
    failed = [r for r in lines if r["event"] == "job noisy failed"]
    assert len(working) == len(failed) == 2
    # Each run has its own id, shared by every line of that run.
    assert working[0]["job_run_id"] != working[1]["job_run_id"]
    assert [r["job_run_id"] for r in working] == [r["job_run_id"] for r in failed]
    assert "RuntimeError: and failing" in failed[0]["exception"]


def test_log_format_defaults_to_json_in_production_and_text_elsewhere() -> None:
    assert load_settings().resolved_log_format == "text"
    production = load_settings(env="production", secret_key="p" * 40, log_format=None)
    assert production.resolved_log_format == "json"
    assert load_settings(log_format="json").resolved_log_format == "json"


def test_text_format_is_readable_and_keeps_the_context() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("text"))
    logger = logging.getLogger("backend.text_format_test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        import structlog

        with structlog.contextvars.bound_contextvars(request_id="rid-9"):
            logger.warning("disk %s", "full")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    text = stream.getvalue()
    assert "disk full" in text and "request_id=rid-9" in text
    assert not text.lstrip().startswith("{")


def test_the_access_log_stays_redacted_in_json(json_lines: io.StringIO) -> None:
    """uvicorn's access lines go through the same handler, after the redaction filter."""
    redact_access_log()
    access = logging.getLogger("uvicorn.access")
    level, access.level = access.level, logging.INFO
    try:
        access.info(
            '%s - "%s %s HTTP/%s" %d', "10.0.0.1", "GET", "/auth/link?token=s3cr3t", "1.1", 302
        )
    finally:
        access.setLevel(level)
    [line] = [r for r in records(json_lines) if r.get("logger") == "uvicorn.access"]
    assert "s3cr3t" not in line["event"] and "token=[redacted]" in line["event"]


def test_the_server_logging_config_routes_uvicorn_through_the_structured_handler() -> None:
    config = logging_config(load_settings(log_format="json", log_level="warning"))
    assert config["root"] == {"level": "WARNING", "handlers": ["stderr"]}
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert config["loggers"][name]["handlers"] == [] and config["loggers"][name]["propagate"]
    assert config["formatters"]["structured"]["log_format"] == "json"


def test_configure_logging_leaves_a_configured_process_alone() -> None:
    """Under a test runner (which has its own handlers on the root logger) nothing changes."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging(load_settings(log_format="json"))
    assert root.handlers == handlers and root.level == level
