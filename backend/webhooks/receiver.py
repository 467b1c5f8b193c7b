"""The handling every signal webhook shares: read the raw body (size-limited), verify the
organisation's signature, parse and map the batch, store it, and answer only once it is stored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backend.derived_keys import key_ring
from backend.errors import DomainError, ErrorCode, InvalidInput, NotFoundError
from backend.learning import submit_signals
from backend.orgs.service import organization_by_slug
from backend.signals.service import SOURCE_PATTERN, SignalBatchResult
from backend.state import AppState
from backend.viewer import Viewer
from backend.webhooks.headers import ascii_int, storable
from backend.webhooks.mapping import ProviderFormat, signals_from_batch
from backend.webhooks.signing import SignatureError, verify_signature, webhook_secret

MAX_BODY_BYTES = 1024 * 1024
ORGANIZATION_HEADER = "X-Organization"
SIGNATURE_HEADER = "X-Signature"
PROVIDER_HEADER = "X-Provider"
Clock = Callable[[], dt.datetime]


class _Rejected(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _unauthorized(message: str) -> _Rejected:
    return _Rejected(JSONResponse({"error": message}, status_code=401))


def _too_large() -> _Rejected:
    return _Rejected(
        JSONResponse(
            {"error": f"the body is larger than {MAX_BODY_BYTES} bytes; send smaller batches"},
            status_code=413,
        )
    )


def _invalid(errors: list[DomainError], fmt: ProviderFormat | None = None) -> _Rejected:
    status = 403 if any(e.code is ErrorCode.FORBIDDEN for e in errors) else 400
    body = [
        {
            "field": fmt.provider_field(e.field) if fmt else e.field,
            "code": e.code.value,
            "message": e.message,
        }
        for e in errors
    ]
    return _Rejected(JSONResponse({"errors": body}, status_code=status))


def declared_length(request: Request) -> int | None:
    """The body's declared ``Content-Length`` (None when absent: chunked); 400 when it is no
    number of ASCII digits."""
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    length = ascii_int(declared)
    if length is None:
        problem = "must be the body's size in bytes (ASCII digits)"
        raise _invalid([DomainError(ErrorCode.INVALID, problem, field="Content-Length")])
    return length


async def _read_body(request: Request) -> bytes:
    declared = declared_length(request)
    if declared is not None and declared > MAX_BODY_BYTES:
        raise _too_large()  # refused before reading a byte
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
    return bytes(body)


async def _authenticate(request: Request, body: bytes, now: dt.datetime) -> Viewer:
    """The organisation that signed ``body``, as the viewer its signals are written by."""
    slug = request.headers.get(ORGANIZATION_HEADER)
    header = request.headers.get(SIGNATURE_HEADER)
    if not slug or not header:
        raise _unauthorized(f"send the {ORGANIZATION_HEADER} and {SIGNATURE_HEADER} headers")
    state: AppState = request.app.state.app
    organization_id: int | None = None
    if storable(slug):  # a slug with a NUL names no organisation (and PostgreSQL refuses it)
        async with state.sessions() as session:
            with contextlib.suppress(NotFoundError):
                organization_id = (await organization_by_slug(session, slug)).id
    # An unknown organisation still has a derived secret: the same check runs and fails the
    # same way, so a response never tells whether an organisation exists.
    # During a rotation of SECRET_KEY, senders still signing with the previous key's secret pass.
    secrets = [webhook_secret(key, slug) for key in key_ring(state.settings.secret_key)]
    try:
        verify_signature(secrets, header, body, now=now.timestamp())
    except SignatureError as exc:
        raise _unauthorized(str(exc)) from None
    if organization_id is None:
        raise _unauthorized("the signature does not match")
    # The webhook acts for the organisation whose secret signed it (it only submits signals).
    return Viewer.system(organization_id)


def _source(request: Request, default: str, *, from_header: bool) -> str:
    source = request.headers.get(PROVIDER_HEADER) if from_header else None
    if source is None:
        return default
    if not SOURCE_PATTERN.match(source):
        problem = "must be 1..40 characters of a-z, 0-9, '_', '.', '-'"
        raise _invalid([DomainError(ErrorCode.INVALID, problem, field=PROVIDER_HEADER)])
    return source


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:  # invalid UTF-8 or JSON, or a number over Python's 4300 digits
        problem = DomainError(ErrorCode.INVALID, f"is not valid JSON: {exc}", field="body")
        raise _invalid([problem]) from None
    except RecursionError:  # thousands of nested brackets: no provider sends that
        problem = DomainError(ErrorCode.INVALID, "is nested too deeply", field="body")
        raise _invalid([problem]) from None


def _report(result: SignalBatchResult) -> dict[str, Any]:
    return {
        "received": result.received,
        "stored": result.stored,
        "duplicates": result.duplicates,
        "matched": result.matched,
        "unmatched": [{"source": s, "externalId": e} for s, e in result.unmatched],
        "resolved": result.resolved,
        "needsLabel": result.needs_label,
        "late": result.late,
    }


async def receive_signals(
    request: Request,
    fmt: ProviderFormat,
    *,
    source: str,
    source_from_header: bool,
    clock: Clock | None = None,
) -> Response:
    """Verify, map and store one batch; 200 only after it is stored, else 401/400/413 with
    nothing stored. ``clock`` defaults to the app's."""
    try:
        now = clock() if clock is not None else request.app.state.app.now()
        body = await _read_body(request)
        viewer = await _authenticate(request, body, now)
        signals = signals_from_batch(
            fmt, _parse(body), source=_source(request, source, from_header=source_from_header)
        )
    except InvalidInput as exc:
        return _invalid(exc.errors).response
    except _Rejected as rejected:
        return rejected.response
    try:
        result = await submit_signals(request.app.state.app, viewer, signals, now=now)
    except InvalidInput as exc:
        return _invalid(exc.errors, fmt).response
    except DomainError as exc:
        return _invalid([exc], fmt).response
    return JSONResponse(_report(result))


def signal_webhook_route(
    path: str,
    fmt: ProviderFormat,
    *,
    name: str,
    source: str,
    source_from_header: bool = False,
    clock: Clock | None = None,
) -> Route:
    """A ``POST`` route that receives ``fmt``'s batches, signed per organisation; an outage of
    the database or broker is answered 503 with Retry-After (backend.outages: the provider
    retries)."""

    async def endpoint(request: Request) -> Response:
        return await receive_signals(
            request, fmt, source=source, source_from_header=source_from_header, clock=clock
        )

    return Route(path, endpoint, methods=["POST"], name=name)
