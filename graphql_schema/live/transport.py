"""Strawberry's `graphql-transport-ws` handler, telling each operation's task its id, so that a
live subscription can send the `next` frames the process encoded once for all its subscribers
(`graphql_schema.live.hub`) instead of executing and encoding every event once per subscriber.

Strawberry still owns each operation: `subscribe`, errors, `complete` and cancellation.
"""

from __future__ import annotations

import json
from contextvars import ContextVar

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)

from graphql_schema.context import Context

# Set in each operation's own task (a task runs in a copy of the context it was created in).
_OPERATION_ID: ContextVar[str | None] = ContextVar("graphql_transport_ws_operation", default=None)


class LiveTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def run_operation(self, operation: Operation[Context, None]) -> None:
        _OPERATION_ID.set(operation.id)
        await super().run_operation(operation)


def next_frame_start() -> str | None:
    """The text a `next` frame of the current operation starts with (its payload and ``}``
    follow), or None outside an operation of `LiveTransportWSHandler`."""
    operation_id = _OPERATION_ID.get()
    if operation_id is None:
        return None
    return f'{{"id":{json.dumps(operation_id)},"type":"next","payload":'
