"""A CLIENT span around an outgoing HTTP call that no instrumentation sees (partner webhooks go
out over http.client), recorded by whatever tracer provider the process set up
(backend/observability/tracing.py, when the `otel` extra is on); nothing otherwise."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit


@contextlib.contextmanager
def client_span(method: str, url: str) -> Iterator[Any]:
    """Named and attributed as the HTTP instrumentations do, the URL without its query (which
    may carry a partner's token). Yields the span (``set_attribute`` the status on it), or
    None without OpenTelemetry."""
    try:
        from opentelemetry import trace
    except ImportError:
        yield None
        return
    parts = urlsplit(url)
    attributes = {
        "http.request.method": method,
        "url.full": f"{parts.scheme}://{parts.netloc}{parts.path or '/'}",
        "server.address": parts.hostname or "",
    }
    tracer = trace.get_tracer("backend.outgoing_spans")
    with tracer.start_as_current_span(
        method, kind=trace.SpanKind.CLIENT, attributes=attributes
    ) as span:
        yield span
