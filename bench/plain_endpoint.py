"""The baseline of `bench_graphql.py`: plain Starlette JSON endpoints doing the same work as the
GraphQL `repDashboard` query and `recordSignals` mutation, minus GraphQL.

Each request authenticates exactly as the GraphQL view does (`authenticate` in its own session,
committed), then calls the same backend service the resolver calls, and answers with the
service's dataclasses as JSON (`dataclasses.asdict`; non-finite numbers as null, as the schema
does). Run it like the real app, in its own process:

    DATABASE_URL=... SECRET_KEY=... REDIS_URL=... \\
        python -m uvicorn bench.plain_endpoint:create_app --factory --port 8001
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import math
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backend.analytics import service as analytics
from backend.auth.service import authenticate
from backend.errors import DomainError
from backend.handlers import open_state
from backend.learning import submit_signals
from backend.settings import load_settings
from backend.signals.service import SignalBatchResult, SignalInput
from backend.state import AppState
from backend.viewer import Viewer


def plain(value: Any) -> Any:
    """JSON-ready: dataclasses as objects, non-finite floats as null, dates as ISO text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date):  # dt.datetime too
        return value.isoformat()
    return value


def json_response(data: Any, status_code: int = 200) -> Response:
    body = json.dumps(plain(data), separators=(",", ":"))
    return Response(body, status_code=status_code, media_type="application/json")


async def _viewer(state: AppState, request: Request) -> Viewer:
    """As `graphql_schema.view.viewer_for`: its own session, committed (API keys' last use)."""
    async with state.sessions() as session:
        viewer = await authenticate(
            session, state.settings, request.headers.get("authorization", "")
        )
        await session.commit()
        return viewer


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


async def rep_dashboard(request: Request) -> Response:
    state: AppState = request.app.state.app
    body = await request.json()
    try:
        viewer = await _viewer(state, request)
        dashboard = await analytics.rep_dashboard(
            state.reads,
            viewer,
            agent_id=int(body["agentId"]),
            since=_date(body.get("from")),
            until=_date(body.get("to")),
        )
    except DomainError as exc:
        return json_response({"error": exc.code.value, "message": exc.message}, 400)
    return json_response(dashboard)


def signal_input(item: dict[str, Any]) -> SignalInput:
    """One signal of the request's JSON body, as the service takes it."""
    return SignalInput(
        kind=item["kind"],
        source=item["source"],
        external_id=item["externalId"],
        occurred_at=dt.datetime.fromisoformat(item["occurredAt"]),
        payload=item.get("payload") or {},
        action_id=item.get("actionId"),
        message_external_id=item.get("messageExternalId"),
        thread_external_id=item.get("threadExternalId"),
        deal_external_id=item.get("dealExternalId"),
    )


async def record_signals(request: Request) -> Response:
    state: AppState = request.app.state.app
    body = await request.json()
    try:
        viewer = await _viewer(state, request)
        result = await submit_signals(state, viewer, [signal_input(s) for s in body["signals"]])
    except DomainError as exc:
        return json_response({"error": exc.code.value, "message": exc.message}, 400)
    return json_response(batch_answer(result))


def batch_answer(result: SignalBatchResult) -> dict[str, Any]:
    answer = dataclasses.asdict(result)
    answer.pop("predictions")  # internal: what the rollup counted
    return answer


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app() -> Starlette:
    settings = load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state = open_state(settings)
        app.state.app = state
        try:
            yield
        finally:
            await state.close()

    routes = [
        Route("/healthz", healthz),
        Route("/plain/rep-dashboard", rep_dashboard, methods=["POST"]),
        Route("/plain/record-signals", record_signals, methods=["POST"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
