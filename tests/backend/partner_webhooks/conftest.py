"""A real HTTP receiver on 127.0.0.1 (the standard library's server, in a thread) that keeps
each request and answers the status codes a test chooses; and endpoints of org north.

The receiver is a loopback address, which webhooks may not reach by default: these tests run
with `PARTNER_WEBHOOKS_ALLOW_PRIVATE_URLS` on (`private_urls`), and those of the refusal turn
it off."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from backend.partner_webhooks.service import EndpointSpec, SavedEndpoint, upsert_endpoint
from backend.unit_of_work import transaction
from tests.backend.conftest import Loop
from tests.factories import NOW


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each path with its scripted codes in turn (then 200); `/slow` waits until the
    test ends before answering."""

    server: ThreadingHTTPServer
    requests: list[Request] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            me = holder["receiver"]
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            me.requests.append(
                Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            if self.path == "/slow":
                me.release.wait(30)
            codes = me.script.get(self.path) or []
            code = codes.pop(0) if codes else 200
            self.send_response(code)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder["receiver"] = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["receiver"]
    finally:
        holder["receiver"].release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def loop_at_now(loop: Loop) -> None:
    """The loop's clock stands at the factories' NOW: nothing here reads the wall clock."""
    loop.state.clock = lambda: NOW


def private_urls(loop: Loop, *, allowed: bool) -> None:
    """Set the loop's `PARTNER_WEBHOOKS_ALLOW_PRIVATE_URLS`."""
    loop.state.settings = loop.state.settings.model_copy(
        update={"partner_webhooks_allow_private_urls": allowed}
    )


@pytest.fixture(autouse=True)
def allow_the_local_receiver(loop: Loop) -> None:
    """The receiver listens on 127.0.0.1: private addresses are allowed, explicitly (the
    default refuses them)."""
    assert loop.state.settings.partner_webhooks_allow_private_urls is False  # the default
    private_urls(loop, allowed=True)


async def add_endpoint(
    loop: Loop, url: str, event_types: list[str] | None = None, *, enabled: bool = True
) -> SavedEndpoint:
    async with transaction(loop.state.sessions) as session:
        return await upsert_endpoint(
            session,
            loop.admin,
            EndpointSpec(
                url=url,
                event_types=event_types
                or ["alert.changed", "calibration.changed", "policy.changed"],
                enabled=enabled,
            ),
            secret_key=loop.state.settings.secret_key,
            now=NOW,
            allow_private_urls=loop.state.settings.partner_webhooks_allow_private_urls,
        )
