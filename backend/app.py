"""The composition root: builds the Starlette app, mounts GraphQL, health and the dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from backend.access_log import redact_access_log
from backend.auth.routes import auth_routes
from backend.body_limit import BodyLimit
from backend.database import utcnow
from backend.gmail.routes import gmail_routes
from backend.handlers import open_state
from backend.health import check_readiness, service_version
from backend.http_headers import http_middleware
from backend.notifications.smtp import send_email
from backend.observability.metrics import HttpMetrics, metrics_endpoint
from backend.observability.queues import queue_depths
from backend.observability.request_id import RequestId
from backend.observability.tracing import trace_engine
from backend.outages import Outages
from backend.reports.unsubscribe import unsubscribe_routes
from backend.settings import Settings, load_settings
from backend.slack.routes import slack_routes
from backend.state import AppState, Clock
from backend.webhooks.routes import webhook_routes
from backend.worker import run_worker
from graphql_schema.live.hub import LiveHub
from graphql_schema.schema import build_schema
from graphql_schema.view import GraphQLView

FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend_stub" / "dist"
log = logging.getLogger(__name__)


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok", "version": service_version()})


async def readyz(request: Request) -> Response:
    report = await check_readiness(request.app.state.app)
    body = {
        "status": "ok" if report.ok else "unavailable",
        "database": report.database,
        "broker": report.broker,
        "version": report.version,
    }
    return JSONResponse(body, status_code=200 if report.ok else 503)


def live_subscribers(state: AppState) -> int:
    return LiveHub.of(state).subscriber_count()


def create_app(settings: Settings | None = None, *, clock: Clock = utcnow) -> Starlette:
    """The app; ``clock`` is its "now" (tests inject one)."""
    settings = settings or load_settings()
    redact_access_log()  # sign-in and unsubscribe links carry their token in the query string

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state = open_state(settings, clock=clock)
        app.state.app = state
        trace_engine(state.engine, service="sales-agent-learning-api")  # with the otel extra
        # Long-lived objects (modules, schema, engine) leave the collector's generations, so the
        # full collections that run while serving stay short (measured: bench/bench_graphql.py).
        gc.collect()
        gc.freeze()
        stop = asyncio.Event()
        worker = (
            asyncio.create_task(run_worker(state, stop=stop), name="worker")
            if settings.runs_worker_in_process
            else None
        )
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            await state.close()

    graphql = GraphQLView(build_schema(settings), settings)
    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route(
            "/metrics",
            metrics_endpoint(
                settings, queue_depths=queue_depths, live_subscribers=live_subscribers
            ),
        ),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        *webhook_routes(),
        *slack_routes(),
        *gmail_routes(settings),
        *unsubscribe_routes(),
        *auth_routes(send_email),
    ]
    if FRONTEND_DIR.is_dir():
        routes.append(Mount("/", StaticFiles(directory=FRONTEND_DIR, html=True), name="dashboard"))
    body_limit = Middleware(
        BodyLimit,
        limits=[("/graphql", settings.graphql_max_body_bytes)],
        default=settings.webhook_max_body_bytes,
    )
    # Outermost: the request id (every line logged while serving carries it) and the request
    # metrics; then a database or broker outage met anywhere is a 503 with Retry-After.
    middleware = [
        Middleware(RequestId),
        Middleware(HttpMetrics),
        Middleware(Outages),
        *http_middleware(settings),
        body_limit,
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
