"""The GraphQL HTTP and WebSocket endpoint: authentication, persisted queries, the context."""

from __future__ import annotations

import json
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from backend.auth.csrf import cross_site_problem, json_problem
from backend.auth.service import authenticate, writes_on_use
from backend.auth.sessions import SESSION_COOKIE, is_session_token
from backend.auth.sign_in import viewer_of_cookie
from backend.errors import DomainError
from backend.outages import UNAVAILABLE, Unavailable
from backend.settings import Environment, Settings
from backend.state import AppState
from graphql_schema.context import Context
from graphql_schema.live.access import CredentialChecks
from graphql_schema.live.transport import LiveTransportWSHandler
from graphql_schema.persisted import (
    PersistedQueries,
    PersistedQueryNotFound,
    requested_document_ids,
)

# The code of a request refused before it runs, by HTTP status (docs/api.md, "Conventions").
REFUSAL_CODES = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}

# GraphiQL bundled with the dashboard (frontend_stub/dist/graphiql/, served at /graphiql/), in
# place of Strawberry's page, which loads it from a public CDN: the IDE works offline.
GRAPHIQL_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphiQL: Sales Agent Learning</title>
<style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
<link rel="stylesheet" href="/graphiql/graphiql.css">
<script type="module" src="/graphiql/graphiql.js"></script>
</head>
<body><div id="graphiql">Loading GraphiQL…</div></body>
</html>
"""


async def viewer_for(state: AppState, credential: str) -> Any:
    if not writes_on_use(credential):  # a user token: one read, one round trip
        async with state.reads() as session:
            return await authenticate(session, state.settings, credential, now=state.now())
    async with state.sessions() as session:
        viewer = await authenticate(session, state.settings, credential, now=state.now())
        await session.commit()  # last_used_at of API keys
        return viewer


class GraphQLView(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = LiveTransportWSHandler

    def __init__(self, schema: Any, settings: Settings) -> None:
        self.max_json_depth = settings.graphql_max_json_depth
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.env is not Environment.PRODUCTION else None,
            allow_queries_via_get=settings.graphql_allow_get,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            keep_alive=True,
        )
        self.persisted = PersistedQueries.from_file(settings.graphql_allowlist)

    @property
    def graphql_ide_html(self) -> str:
        return GRAPHIQL_PAGE

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        context = Context(connection=request, state=request.app.state.app, response=response)
        credential = request.headers.get("authorization")
        if credential and isinstance(request, Request):
            try:
                context.viewer = await viewer_for(context.state, credential)
            except DomainError as exc:
                context.auth_problem = exc.message
                if isinstance(response, Response):
                    # A credential presented and refused (RFC 6750): 401, the body as ever
                    # (the fields that need a viewer answer `unauthenticated`).
                    response.status_code = 401
                    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        elif isinstance(request, Request) and (cookie := request.cookies.get(SESSION_COOKIE)):
            # The browser sends the cookie whoever made the page: a POST must be JSON from our
            # own origin (backend.auth.csrf), refused before anything runs.
            if request.method == "POST" and (
                problem := json_problem(request)
                or cross_site_problem(request, context.state.settings)
            ):
                raise HTTPException(403, problem)
            try:
                context.viewer, _ = await viewer_of_cookie(context.state, cookie)
            except DomainError as exc:
                context.auth_problem = exc.message
        return context

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        credential = params.get("Authorization") or params.get("authorization")
        cookie = context.connection.cookies.get(SESSION_COOKIE, "")
        if not credential and is_session_token(cookie):
            # The handshake's session cookie, from a page of our own origin only; kept as the
            # connection's credential, which the live hub re-checks (a revoked session ends).
            if problem := cross_site_problem(context.connection, context.state.settings):
                raise ConnectionRejectionError({"message": problem})
            credential = cookie
            context.connection_params = {**params, "Authorization": cookie}
        if not isinstance(credential, str) or not credential:
            raise ConnectionRejectionError({"message": "send Authorization in connection_init"})
        try:
            context.viewer = await CredentialChecks.of(context.state).connect(context, credential)
        except DomainError as exc:
            raise ConnectionRejectionError({"message": exc.message}) from None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's endpoint, but a request refused before it runs is answered in JSON,
        as GraphQL errors with a code, rather than in plain text."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            response = refusal(exc.status_code, exc.reason)
        except PersistedQueryNotFound:
            response = PERSISTED_QUERY_NOT_FOUND
        await response(scope, receive, send)

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: Any,
    ) -> Any:
        """Strawberry's, but subscriptions are refused over HTTP: they are served on the
        WebSocket only (`graphql-transport-ws`)."""
        method = request_adapter.method
        allowed = OperationType.from_http(method) - {OperationType.SUBSCRIPTION}
        if method == "GET" and not self.allow_queries_via_get:
            allowed -= {OperationType.QUERY}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from None
        except InvalidOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason(method)) from None
        except MissingQueryError:
            raise HTTPException(400, "No GraphQL query found in the request") from None

    def decode_json(self, data: str | bytes) -> object:
        """JSON nested at most `GRAPHQL_MAX_JSON_DEPTH` deep: HTTP bodies and WebSocket
        messages alike (a deeper one is not JSON we read: the WebSocket closes with 4400)."""
        try:
            value = json.loads(data)
        except RecursionError:  # nested deeper than the decoder goes: deeper than our limit
            raise TooDeep(self._too_deep(), "", 0) from None
        if json_depth(value) > self.max_json_depth:
            raise TooDeep(self._too_deep(), "", 0)
        return value

    def parse_json(self, data: str | bytes) -> Any:
        """A JSON object (a GraphQL request; variables and extensions of a GET), nested at most
        `GRAPHQL_MAX_JSON_DEPTH` deep. Anything else is refused with 400, before it runs."""
        try:
            value = self.decode_json(data)
        except TooDeep as exc:
            raise HTTPException(400, exc.msg) from None
        except ValueError:  # not JSON, or not UTF-8
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(value, dict):
            raise HTTPException(400, "The body must be a JSON object (a GraphQL request)")
        return value

    def _too_deep(self) -> str:
        return f"The body is nested deeper than {self.max_json_depth} levels"

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        """An HTTP answer whose resolvers met a database or broker outage is a 503 with
        Retry-After as a whole (backend.outages), not a 200 with errors: it is to be retried."""
        if isinstance(request, Request) and any(
            (e.extensions or {}).get("code") == UNAVAILABLE for e in result.errors or ()
        ):
            raise Unavailable("a resolver met an outage")
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> str:
        """Answers in compact JSON, by orjson (the standard library's encoder is several
        times slower on a page of nodes); an integer beyond 64 bits (JSON data stored as
        evidence) falls back to the standard encoder. Text, not bytes: WebSocket messages
        must be text frames."""
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return json.dumps(data, separators=(",", ":"))

    async def parse_http_body(self, request: Any) -> Any:
        data = await super().parse_http_body(request)
        ids = await requested_document_ids(request)  # GraphQL over HTTP's, Strawberry drops it
        for index, item in enumerate(data if isinstance(data, list) else [data]):
            document_id = ids[index] if index < len(ids) else None
            try:
                item.query = self.persisted.resolve(item.query, item.extensions, document_id)
            except PersistedQueryNotFound:
                raise
            except DomainError as exc:
                raise HTTPException(
                    400 if exc.code.value != "forbidden" else 403, exc.message
                ) from None
        return data


class TooDeep(json.JSONDecodeError):
    """JSON nested deeper than the limit: refused as JSON we do not read."""


# Apollo's answer to a hash it does not know, which its clients (and GraphQL Codegen's) take as
# "send the text with the hash" and retry: a 200 with the error its persisted-queries link reads.
PERSISTED_QUERY_NOT_FOUND = JSONResponse(
    {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
)


def refusal(status: int, message: str) -> Response:
    """A request refused before it runs: GraphQL errors with a code (`extensions.code`)."""
    code = REFUSAL_CODES.get(status, "invalid")
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status
    )


def json_depth(value: Any) -> int:
    """How deeply ``value`` (decoded JSON) nests arrays and objects: iteratively, so a hostile
    value cannot exhaust the stack."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in item)
    return deepest
