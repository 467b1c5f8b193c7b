"""The Slack stand-in, able to answer as Slack's edge does when it is in trouble: an HTTP status
(503, or 429 with Retry-After) instead of Slack's JSON."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

from tests.backend.slack.standin import Call, SlackStandIn


class TroubledSlackStandIn(SlackStandIn):
    def __init__(self, *, token: str, team_id: str) -> None:
        # method -> (HTTP status, headers) to answer with instead of Slack's JSON
        self.statuses: dict[str, tuple[int, dict[str, str]]] = {}
        super().__init__(token=token, team_id=team_id)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        answers_json = super()._handler()
        stand_in = self

        class Handler(answers_json):  # type: ignore[misc, valid-type]
            def do_POST(self) -> None:
                method = self.path.removeprefix("/api/")
                status = stand_in.statuses.get(method)
                if status is None:
                    super().do_POST()
                    return
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with stand_in._lock:
                    stand_in.calls.append(
                        Call(
                            method,
                            self.headers.get("Authorization"),
                            self.headers.get("Content-Type"),
                            json.loads(raw) if raw else {},
                        )
                    )
                code, headers = status
                body = b"<html><body>upstream trouble</body></html>"
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
