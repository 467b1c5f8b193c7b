"""The Slack stand-in, also answering what posting a report needs: form-encoded Web API calls
(``conversations.open``, ``files.getUploadURLExternal``, ``files.completeUploadExternal``) and
Slack's file host, an ``/upload/<file id>`` path of the same server taking the bytes raw or as
a multipart form, as Slack's does."""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from tests.backend.slack.alerts.standin import TroubledSlackStandIn
from tests.backend.slack.standin import Call


@dataclass
class Upload:
    """A file announced by ``files.getUploadURLExternal``, and what its upload brought."""

    file_id: str
    filename: str
    length: int
    content: bytes | None = None  # None until uploaded
    headers: str = ""  # every header the upload request carried, as sent
    content_type: str | None = None


@dataclass(frozen=True)
class Share:
    """A file shared by ``files.completeUploadExternal``."""

    file_id: str
    title: str | None
    channel_id: str | None
    thread_ts: str | None


class ReportSlackStandIn(TroubledSlackStandIn):
    def __init__(self, *, token: str, team_id: str) -> None:
        self.uploads: dict[str, Upload] = {}
        self.shares: list[Share] = []
        self.upload_status: tuple[int, dict[str, str]] | None = None  # the file host in trouble
        self._file_ids = itertools.count(1)
        super().__init__(token=token, team_id=team_id)

    @property
    def root_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, method: str, arguments: dict[str, Any], authorization: str | None) -> Any:
        if authorization != f"Bearer {self.token}" or method in self.failures:
            return super().answer(method, arguments, authorization)
        if method == "conversations.open":
            users = str(arguments.get("users") or "")
            if not users or "," in users:
                return {"ok": False, "error": "invalid_arguments"}  # one member: one DM
            return {"ok": True, "channel": {"id": "D" + users[1:]}}
        if method == "files.getUploadURLExternal":
            return self._ticket(arguments)
        if method == "files.completeUploadExternal":
            return self._complete(arguments)
        return super().answer(method, arguments, authorization)

    def _ticket(self, arguments: dict[str, Any]) -> dict[str, Any]:
        filename, length = arguments.get("filename"), str(arguments.get("length") or "")
        if not filename or not length.isdigit() or int(length) == 0:
            return {"ok": False, "error": "missing_argument"}
        file_id = f"F{next(self._file_ids):08d}"
        self.uploads[file_id] = Upload(file_id, str(filename), int(length))
        return {"ok": True, "upload_url": f"{self.root_url}/upload/{file_id}", "file_id": file_id}

    def _complete(self, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            files = json.loads(arguments["files"])
        except (KeyError, TypeError, json.JSONDecodeError):
            return {"ok": False, "error": "invalid_arguments"}
        answered = []
        for file in files:
            upload = self.uploads.get(file.get("id"))
            if upload is None:
                return {"ok": False, "error": "file_not_found"}
            if upload.content is None or len(upload.content) != upload.length:
                # Slack aborts an upload whose bytes never came or differ from the length
                # announced; this is the stand-in's name for that refusal.
                return {"ok": False, "error": "upload_incomplete"}
            self.shares.append(
                Share(
                    upload.file_id,
                    file.get("title"),
                    arguments.get("channel_id"),
                    arguments.get("thread_ts"),
                )
            )
            answered.append({"id": upload.file_id, "title": file.get("title")})
        return {"ok": True, "files": answered}

    def _receive_upload(self, file_id: str, headers: Any, raw: bytes) -> int:
        """Keep the bytes of an announced upload (raw, or the multipart form's file part);
        the HTTP status to answer."""
        content_type = headers.get("Content-Type") or ""
        if content_type.startswith("multipart/form-data"):
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + raw
            )
            parts = [part for part in message.iter_parts() if part.get_filename() is not None]
            if len(parts) != 1:
                return 400
            payload = parts[0].get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
        with self._lock:
            upload = self.uploads.get(file_id)
            if upload is None:
                return 404
            upload.content = raw
            upload.headers = str(headers)
            upload.content_type = content_type
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        answers_json = super()._handler()
        stand_in = self

        class Handler(answers_json):  # type: ignore[misc, valid-type]
            def do_POST(self) -> None:
                if self.path.startswith("/upload/"):
                    self._upload(self.path.removeprefix("/upload/"))
                    return
                content_type = self.headers.get("Content-Type") or ""
                method = self.path.removeprefix("/api/")
                if not content_type.startswith("application/x-www-form-urlencoded"):
                    super().do_POST()
                    return
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arguments = dict(parse_qsl(raw.decode(), keep_blank_values=True))
                authorization = self.headers.get("Authorization")
                with stand_in._lock:
                    stand_in.calls.append(Call(method, authorization, content_type, arguments))
                    status = stand_in.statuses.get(method)
                    answer = None if status else stand_in.answer(method, arguments, authorization)
                if status is not None:
                    self._reply(status[0], status[1], b"upstream trouble", "text/plain")
                    return
                self._reply(200, {}, json.dumps(answer).encode(), "application/json")

            def _upload(self, file_id: str) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if stand_in.upload_status is not None:
                    code, headers = stand_in.upload_status
                    self._reply(code, headers, b"upstream trouble", "text/plain")
                    return
                code = stand_in._receive_upload(file_id, self.headers, raw)
                body = f"OK - {len(raw)}" if code == 200 else "Bad upload"
                self._reply(code, {}, body.encode(), "text/plain")

            def _reply(
                self, code: int, headers: dict[str, str], body: bytes, content_type: str
            ) -> None:
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
