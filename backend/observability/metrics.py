"""The service's Prometheus metrics (each process counts its own: scrape every replica) and the
`GET /metrics` endpoint, which serves them in the text exposition format.

Counters and histograms move with the work: HTTP requests by route template, GraphQL
operations and their cost, errors by code, subscribers dropped, worker job runs. Gauges that
describe the database (queue depths) and the process (live subscribers) are computed when
scraped, by the callables the composition root gives the endpoint."""

from __future__ import annotations

import asyncio
import hmac
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.settings import Settings
from backend.state import AppState

# No `_created` series beside each counter: half the page, and unused.
disable_created_metrics()  # type: ignore[no-untyped-call]

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route.",
    ["method", "route"],
)
GRAPHQL_OPERATIONS = Counter(
    "graphql_operations",
    "GraphQL operations executed, by type and operation name.",
    ["type", "name"],
)
GRAPHQL_COST = Counter(
    "graphql_operation_cost",
    "Cost points actually charged for GraphQL operations (extensions.cost.actualQueryCost).",
    ["type", "name"],
)
GRAPHQL_ERRORS = Counter(
    "graphql_errors", "GraphQL errors answered, by code (extensions.code).", ["code"]
)
LIVE_SUBSCRIBERS = Gauge("live_subscribers", "Live GraphQL subscriptions served by this process.")
LIVE_DROPPED = Counter(
    "live_subscribers_dropped",
    "Live subscriptions ended because their client fell too far behind.",
)
JOB_RUNS = Counter("worker_job_runs", "Worker job runs, by job.", ["job"])
JOB_FAILURES = Counter("worker_job_failures", "Worker job runs that failed, by job.", ["job"])
JOB_ITEMS = Counter("worker_job_items", "Items a worker job run handled, by job.", ["job"])
JOB_DURATION = Histogram(
    "worker_job_duration_seconds",
    "Time a worker job run took, by job.",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900),
)
QUEUE_DEPTH = Gauge("queue_depth", "Work waiting, by queue (computed when scraped).", ["queue"])

# Operation names come from clients: past this many distinct ones, the rest count as "other",
# so a client cannot grow the series without bound.
MAX_OPERATION_NAMES = 500
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_names_seen: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if _NAME.fullmatch(name) is None:
        return "other"
    if name not in _names_seen:
        if len(_names_seen) >= MAX_OPERATION_NAMES:
            return "other"
        _names_seen.add(name)
    return name


def count_operation(
    operation_type: str, name: str | None, cost: int | None, codes: list[str]
) -> None:
    label = operation_label(name)
    GRAPHQL_OPERATIONS.labels(operation_type, label).inc()
    if cost:
        GRAPHQL_COST.labels(operation_type, label).inc(cost)
    for code in codes:
        GRAPHQL_ERRORS.labels(code).inc()


def count_dropped_subscriber() -> None:
    LIVE_DROPPED.inc()


def route_template(app: Any, scope: Scope) -> str:
    """The path template of the route that serves ``scope`` ("/graphql", "/webhooks/crm"),
    never the raw path (which would make a series per URL); "unmatched" when none does."""
    partial = None
    for route in getattr(app, "routes", ()):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return getattr(route, "path", None) or "/"
        if match is Match.PARTIAL and partial is None:  # the path, with another method
            partial = getattr(route, "path", None) or "/"
    return partial or "unmatched"


class HttpMetrics:
    """ASGI middleware: counts each HTTP request by route template and status, and times it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception before the response started

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = route_template(scope["app"], scope)
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


ScrapeGauges = Callable[[AppState], Awaitable[Mapping[str, int]]]


def metrics_endpoint(
    settings: Settings,
    *,
    queue_depths: ScrapeGauges,
    live_subscribers: Callable[[AppState], int],
    registry: CollectorRegistry = REGISTRY,
) -> Callable[[Request], Awaitable[Response]]:
    """`GET /metrics`: behind `METRICS_TOKEN` (a bearer token) when it is set."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""

    async def metrics(request: Request) -> Response:
        if token and not bearer_matches(request.headers.get("authorization"), token):
            return Response(
                "metrics need Authorization: Bearer <METRICS_TOKEN>\n",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        state: AppState = request.app.state.app
        for queue, depth in (await queue_depths(state)).items():
            QUEUE_DEPTH.labels(queue).set(depth)
        LIVE_SUBSCRIBERS.set(live_subscribers(state))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics


def bearer_matches(authorization: str | None, token: str) -> bool:
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


async def start_metrics_server(
    settings: Settings, *, host: str = "0.0.0.0", registry: CollectorRegistry = REGISTRY
) -> asyncio.Server | None:
    """The worker's `GET /metrics` on `WORKER_METRICS_PORT` (None when unset): this process's
    counters (job runs), behind `METRICS_TOKEN` as the API's. A minimal HTTP/1.0 server: one
    request per connection, its head read within a few seconds and a few kilobytes."""
    port = settings.worker_metrics_port
    if port is None:
        return None
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            status, body, content_type = _worker_answer(head, token, registry)
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, host, port, limit=8192)


def _worker_answer(head: bytes, token: str, registry: CollectorRegistry) -> tuple[str, bytes, str]:
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    path = rest.partition(" ")[0].partition("?")[0]
    if method != "GET" or path != "/metrics":
        return "404 Not Found", b"not found\n", "text/plain"
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:] if line)
    }
    if token and not bearer_matches(headers.get("authorization"), token):
        return (
            "401 Unauthorized",
            b"metrics need Authorization: Bearer <METRICS_TOKEN>\n",
            ("text/plain"),
        )
    return "200 OK", generate_latest(registry), CONTENT_TYPE_LATEST
