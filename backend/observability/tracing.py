"""OpenTelemetry tracing, an optional extra (`pip install '.[otel]'`): when its packages are
installed and `OTEL_EXPORTER_OTLP_ENDPOINT` is set, GraphQL operations (Strawberry's extension),
SQL statements (SQLAlchemy) and outgoing HTTP through urllib (Slack, Google's keys) or through
`backend.outgoing_spans` (partner webhooks, sent over http.client) become spans exported over
OTLP/HTTP.
Otherwise every function here does nothing, and nothing is imported."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import weakref
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
PACKAGES = (
    "opentelemetry.sdk",
    "opentelemetry.exporter.otlp.proto.http",
    "opentelemetry.instrumentation.sqlalchemy",
    "opentelemetry.instrumentation.urllib",
)
_provider: Any = None  # this process's TracerProvider, once tracing started
_engines: weakref.WeakSet[Any] = weakref.WeakSet()  # the engines instrumented (sync engines)


def installed() -> bool:
    """Whether the `otel` extra's packages are importable."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in PACKAGES)
    except ModuleNotFoundError:  # a parent package is missing
        return False


def enabled() -> bool:
    """Tracing is on when the extra is installed and an OTLP endpoint is configured."""
    return bool(os.environ.get(ENDPOINT_VARIABLE)) and installed()


def graphql_extensions() -> list[Any]:
    """Strawberry's OpenTelemetry extension when tracing is on (no resolver arguments are
    recorded: they may hold personal data or secrets); none otherwise."""
    if not enabled():
        return []
    from strawberry.extensions.tracing import OpenTelemetryExtension

    def no_arguments(arguments: dict[str, Any], info: Any) -> dict[str, Any]:
        return {}

    return [lambda: OpenTelemetryExtension(arg_filter=no_arguments)]


def start_tracing(*, service: str, exporter: Any = None) -> bool:
    """Set up this process's tracer provider (once) and trace outgoing HTTP through urllib.
    ``exporter`` replaces the OTLP exporter (tests). False when tracing is off."""
    global _provider
    if not enabled():
        return False
    if _provider is not None:
        return True
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if exporter is None:  # the endpoint and headers come from the OTEL_EXPORTER_OTLP_* variables
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    urllib_instrumentor: Any = importlib.import_module(
        "opentelemetry.instrumentation.urllib"
    ).URLLibInstrumentor
    urllib_instrumentor().instrument(tracer_provider=provider)
    _provider = provider
    log.info("tracing to %s as %s", os.environ.get(ENDPOINT_VARIABLE), name)
    return True


def trace_engine(engine: AsyncEngine, *, service: str) -> bool:
    """Trace ``engine``'s SQL statements (and start tracing if not yet); False when off.
    Each engine gets its own tracer (SQLAlchemyInstrumentor instruments one engine once per
    process; a process, or a test run, may open several)."""
    if not start_tracing(service=service):
        return False
    if engine.sync_engine in _engines:
        return True
    from opentelemetry import metrics, trace

    # Imported by name: the instrumentation's modules carry no type information.
    engine_tracer: Any = importlib.import_module(
        "opentelemetry.instrumentation.sqlalchemy.engine"
    ).EngineTracer
    scope = "opentelemetry.instrumentation.sqlalchemy"
    connections = metrics.get_meter(scope).create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    engine_tracer(
        trace.get_tracer(scope, tracer_provider=_provider), engine.sync_engine, connections
    )
    _engines.add(engine.sync_engine)
    return True
