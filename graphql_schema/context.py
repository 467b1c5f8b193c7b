"""The per-request context: who is asking (the Viewer), the process state (with its clock), and
the request's own DataLoaders (never shared between requests, so one user's cache never serves
another)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader

from backend.errors import DomainError, ErrorCode
from backend.observability.request_id import current_request_id, new_request_id
from backend.state import AppState
from backend.viewer import Viewer

K = TypeVar("K")
V = TypeVar("V")
LoaderFactory = Callable[["Context"], DataLoader[Any, Any]]


class Loaders:
    """DataLoaders of one request, created on first use from a factory function:
    ``info.context.loaders.get(agent_by_id)`` where ``agent_by_id(context) -> DataLoader``."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._loaders: dict[LoaderFactory, DataLoader[Any, Any]] = {}

    def get(self, factory: Callable[[Context], DataLoader[K, V]]) -> DataLoader[K, V]:
        loader = self._loaders.get(factory)
        if loader is None:
            loader = self._loaders[factory] = factory(self._context)
        return loader


@dataclass
class Context:
    connection: HTTPConnection  # the HTTP request or the WebSocket
    state: AppState
    viewer: Viewer | None = None
    # Why the credentials were refused, said to the client only as "unauthenticated: ...".
    auth_problem: str | None = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    # The HTTP request's or WebSocket connection's id (`X-Request-ID`), as in the logs.
    request_id: str = field(default_factory=lambda: current_request_id() or new_request_id())
    loaders: Loaders = field(init=False)
    extensions: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self)

    def now(self) -> dt.datetime:
        """The process clock's "now" (``AppState.clock``): every resolver that decides by time
        asks here, never the wall clock, so tests can run the API at any date."""
        return self.state.now()

    def today(self) -> dt.date:
        """The UTC day of ``now()``: the default end of a range of days."""
        return self.now().date()

    def require_viewer(self) -> Viewer:
        if self.viewer is None:
            message = "authentication required"
            if self.auth_problem:
                message += f": {self.auth_problem}"
            raise DomainError(ErrorCode.UNAUTHENTICATED, message)
        return self.viewer

    @property
    def principal(self) -> str:
        """Who budgets and rate limits are counted for."""
        viewer = self.viewer
        if viewer is not None and viewer.api_client_id is not None:
            return f"key:{viewer.api_client_id}"
        if viewer is not None and viewer.user_id is not None:
            return f"user:{viewer.user_id}"
        client = self.connection.client
        return f"ip:{client.host if client else 'unknown'}"
