"""A webhook's answer to an outage of the database or the broker: 503 with ``Retry-After`` in the
webhooks' own error shape, ``{"error": "...", "code": "unavailable"}``. Providers retry a 503
(Slack retries events; e-mail providers and CRMs retry 5xx), and nothing of the request was
stored, so the retry is applied once. Bad input stays a 4xx, which they do not retry."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend.outages import MESSAGE, RETRY_AFTER_SECONDS, UNAVAILABLE, is_outage

Endpoint = Callable[[Request], Awaitable[Response]]
log = logging.getLogger(__name__)


def unavailable() -> JSONResponse:
    return JSONResponse(
        {"error": MESSAGE.format(RETRY_AFTER_SECONDS), "code": UNAVAILABLE},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def answering_outages(endpoint: Endpoint) -> Endpoint:
    """``endpoint``, answering 503 + Retry-After when the database or broker is unreachable
    (anything else it raises is a bug and propagates)."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("webhook %s answered 503: %r", request.url.path, exc)
            return unavailable()

    return guarded
