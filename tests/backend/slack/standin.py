"""A local stand-in for Slack's Web API: a real HTTP server on 127.0.0.1 that records each call
and answers as Slack documents (``{"ok": true, ...}``, or ``{"ok": false, "error": ...}``)."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Call:
    method: str  # e.g. "chat.update"
    authorization: str | None
    content_type: str | None
    arguments: dict[str, Any]


class SlackStandIn:
    def __init__(self, *, token: str, team_id: str) -> None:
        self.token = token
        self.team_id = team_id
        self.calls: list[Call] = []
        self.failures: dict[str, str] = {}  # method -> Slack error code to answer with
        self.delays: dict[str, float] = {}  # method -> seconds to wait before answering
        self._lock = threading.Lock()
        self._ts = itertools.count(100)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    def __enter__(self) -> SlackStandIn:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def methods(self) -> list[str]:
        with self._lock:
            return [call.method for call in self.calls]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def answer(self, method: str, arguments: dict[str, Any], authorization: str | None) -> Any:
        if authorization != f"Bearer {self.token}":
            return {"ok": False, "error": "invalid_auth"}
        if method in self.failures:
            return {"ok": False, "error": self.failures[method]}
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://example.slack.com/",
                "team": "Example",
                "team_id": self.team_id,
                "user_id": "UBOT",
                "bot_id": "BBOT",
            }
        if method == "chat.postMessage":
            channel = arguments["channel"]
            # A message to a user id lands in the DM channel with them, as in Slack.
            channel = "D" + channel[1:] if channel.startswith("U") else channel
            ts = f"1700000000.{next(self._ts):06d}"
            return {
                "ok": True,
                "channel": channel,
                "ts": ts,
                "message": {"text": arguments.get("text"), "ts": ts},
            }
        if method == "chat.update":
            return {
                "ok": True,
                "channel": arguments["channel"],
                "ts": arguments["ts"],
                "text": arguments.get("text"),
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "views.open":
            return {"ok": True, "view": {"id": "VSTANDIN", **arguments["view"]}}
        return {"ok": False, "error": "unknown_method"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                method = self.path.removeprefix("/api/")
                arguments = json.loads(raw) if raw else {}
                authorization = self.headers.get("Authorization")
                time.sleep(stand_in.delays.get(method, 0.0))
                with stand_in._lock:
                    content_type = self.headers.get("Content-Type")
                    stand_in.calls.append(Call(method, authorization, content_type, arguments))
                    answer = stand_in.answer(method, arguments, authorization)
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        return Handler
