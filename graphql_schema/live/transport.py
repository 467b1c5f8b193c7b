"""Strawberry's `graphql-transport-ws` handler, telling each operation's task which operation it
runs, so that the live hub can send the `next` frames the process encoded once for all its
subscribers (`graphql_schema.live.hub`) instead of executing and encoding every event once per
subscriber.

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
_OPERATION: ContextVar[Operation[Context, None] | None] = ContextVar(
    "graphql_transport_ws_operation", default=None
)


class LiveTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def run_operation(self, operation: Operation[Context, None]) -> None:
        _OPERATION.set(operation)
        await super().run_operation(operation)


class OperationFrames:
    """How the `next` frames of one operation start (its payload and ``}`` follow), and whether
    it may still receive them."""

    __slots__ = ("_operation", "start")

    def __init__(self, operation: Operation[Context, None]) -> None:
        self._operation = operation
        self.start = f'{{"id":{json.dumps(operation.id)},"type":"next","payload":'

    def open(self) -> bool:
        """False once the client completed it (Strawberry forgets it before cancelling its task)
        or it completed: nothing may follow `complete`."""
        operation = self._operation
        return not operation.completed and operation.handler.operations.get(operation.id) is (
            operation
        )


def current_operation_frames() -> OperationFrames | None:
    """The frames of the current operation, or None outside one of `LiveTransportWSHandler`."""
    operation = _OPERATION.get()
    return None if operation is None else OperationFrames(operation)
