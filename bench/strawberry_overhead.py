"""In-process cost of the GraphQL layer per request (no server, no database), for
`bench_graphql.py`: `schema.execute` of a trivial query, of the whole rep dashboard and of
`recordSignals` with a batch of 100, whose service calls are replaced by a ready result, so
only Strawberry and graphql-core (parse, validate, the guards, coercing the input, resolving
and serialising the answer) are timed, with the JSON decoding and encoding the view does. The
plain endpoint's counterpart: `json.loads`, `SignalInput`s, `asdict` and `json.dumps`.

Schema variants:

- *as served*: `build_schema(settings)`, with `ParserCache` and `ValidationCache`;
- *no caches*: the same extensions without the two caches;
- *rules built once*: as served, but the depth and alias limiters' validation rules are built
  once (an `AddValidationRules` factory over fixed rule classes) instead of per request; only
  then can `ValidationCache`, keyed on the rule classes, hit;
- *bare*: no extensions at all.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import strawberry
from starlette.requests import Request
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from backend.analytics import service as analytics
from backend.analytics.service import RepDashboard
from backend.settings import Settings
from backend.signals.service import SignalBatchResult
from backend.viewer import Viewer
from bench.graphql_documents import REP_DASHBOARD, signal_bodies
from bench.plain_endpoint import batch_answer, plain, signal_input
from graphql_schema.context import Context
from graphql_schema.schema import CONFIG, ROOTS, Schema, build_schema
from graphql_schema.signals import mutations as signal_mutations

TRIVIAL = "{ __typename }"
BATCH = 100
VARIANTS = ("as served", "no caches", "rules built once", "bare")


@dataclass(frozen=True)
class Overhead:
    trivial_ms: dict[str, float]  # by variant
    dashboard_ms: dict[str, float]  # by variant
    signals_ms: dict[str, float]  # by variant
    plain_dashboard_ms: float  # asdict + json.dumps of the same dashboard
    plain_signals_ms: float  # the plain endpoint's decoding and encoding of the same batch
    dashboard_bytes: tuple[int, int]  # (GraphQL, plain) response sizes
    validation_cache: str  # hits/misses of the served schema's validation cache, if known


def _variants(settings: Settings) -> dict[str, strawberry.Schema]:
    served = build_schema(settings)
    factories = list(served.extensions)
    made = [factory() for factory in factories]
    no_caches = [
        f
        for f, e in zip(factories, made, strict=True)
        if not isinstance(e, ParserCache | ValidationCache)
    ]
    rules = [
        rule
        for e in made
        if isinstance(e, QueryDepthLimiter | MaxAliasesLimiter)
        for rule in e.validation_rules
    ]
    once = [lambda: AddValidationRules(rules)] + [
        f
        for f, e in zip(factories, made, strict=True)
        if not isinstance(e, QueryDepthLimiter | MaxAliasesLimiter)
    ]
    return {
        "as served": served,
        "no caches": Schema(**ROOTS, config=CONFIG, extensions=no_caches),
        "rules built once": Schema(**ROOTS, config=CONFIG, extensions=once),
        "bare": Schema(**ROOTS, config=CONFIG),
    }


@contextlib.contextmanager
def _services_returning(dashboard: RepDashboard, batch: SignalBatchResult) -> Iterator[None]:
    """The dashboard and the signals use cases answer at once (restored afterwards)."""

    async def rep_dashboard(*_: Any, **__: Any) -> RepDashboard:
        return dashboard

    async def submit_signals(*_: Any, **__: Any) -> SignalBatchResult:
        return batch

    originals = analytics.rep_dashboard, signal_mutations.submit_signals
    analytics.rep_dashboard = rep_dashboard  # type: ignore[assignment]
    signal_mutations.submit_signals = submit_signals  # type: ignore[assignment]
    try:
        yield
    finally:
        analytics.rep_dashboard, signal_mutations.submit_signals = originals  # type: ignore[assignment]


async def _per_call_ms(
    call: Callable[[], Awaitable[object]], count: int, repeats: int = 7
) -> float:
    """Best of ``repeats`` mean times of ``count`` calls, after a warm-up (the minimum is
    the least disturbed by other work on the machine)."""
    for _ in range(max(20, count // 10)):
        await call()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(count):
            await call()
        best = min(best, (time.perf_counter() - started) / count)
    return 1000 * best


def _validation_cache_info() -> str:
    try:
        from strawberry.extensions.validation_cache import _get_validate_cache

        info = _get_validate_cache(512).cache_info()
        return f"{info.hits} hits, {info.misses} misses"
    except (ImportError, AttributeError):  # a private helper of Strawberry; may move
        return "unknown"


async def measure(
    settings: Settings,
    rep: Viewer,
    agent: Viewer,
    dashboard: RepDashboard,
    agent_global_id: str,
    *,
    count: int = 50,
) -> Overhead:
    """``rep`` reads the dashboard, ``agent`` (an agent key's viewer) records the signals."""
    schemas = _variants(settings)
    state = SimpleNamespace(settings=settings, sessions=contextlib.nullcontext)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [],
        "client": ("127.0.0.1", 1),
    }
    graphql_batch, plain_batch = signal_bodies(list(range(1, BATCH + 1)), sentiment=True)
    batch = SignalBatchResult(received=BATCH, stored=BATCH, matched=BATCH, resolved=2 * BATCH)

    def execute(
        schema: strawberry.Schema, body: bytes, viewer: Viewer
    ) -> Callable[[], Awaitable[str]]:
        async def call() -> str:
            request = json.loads(body)
            context = Context(
                connection=Request(scope),
                state=state,  # type: ignore[arg-type]
                viewer=viewer,
            )
            result = await schema.execute(
                request["query"], request.get("variables"), context_value=context
            )
            if result.errors:
                raise RuntimeError(f"{request['query'][:40]!r} failed: {result.errors}")
            return json.dumps({"data": result.data, "extensions": result.extensions})

        return call

    trivial_body = json.dumps({"query": TRIVIAL}).encode()
    dashboard_body = json.dumps(
        {"query": REP_DASHBOARD, "variables": {"agent": agent_global_id}}
    ).encode()
    trivial, whole, signals = {}, {}, {}
    served_info = "unknown"
    with _services_returning(dashboard, batch):
        for name, schema in schemas.items():
            trivial[name] = await _per_call_ms(execute(schema, trivial_body, rep), count * 5)
            whole[name] = await _per_call_ms(execute(schema, dashboard_body, rep), count)
            signals[name] = await _per_call_ms(execute(schema, graphql_batch, agent), count)
            if name == "as served":
                served_info = _validation_cache_info()
        graphql_answer = await execute(schemas["as served"], dashboard_body, rep)()

    async def plain_dashboard() -> str:
        return json.dumps(plain(dashboard), separators=(",", ":"))

    async def plain_signals() -> str:
        inputs = [signal_input(item) for item in json.loads(plain_batch)["signals"]]
        assert len(inputs) == batch.received
        return json.dumps(plain(batch_answer(batch)), separators=(",", ":"))

    plain_dashboard_ms = await _per_call_ms(plain_dashboard, count)
    plain_signals_ms = await _per_call_ms(plain_signals, count)
    plain_answer = await plain_dashboard()
    return Overhead(
        trivial,
        whole,
        signals,
        plain_dashboard_ms,
        plain_signals_ms,
        (len(graphql_answer), len(plain_answer)),
        served_info,
    )
