"""A small client of Slack's Web API: ``POST {base}/{method}`` with a JSON body (a form body for
the methods that want one) and the bot token as bearer, answered ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``; and file uploads to the URL Slack hands out for them.

The standard library's urllib runs in a worker thread (the event loop never blocks); the base
URL is configurable so tests point it at a local stand-in. The token is never logged.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

DEFAULT_TIMEOUT_SECONDS = 5.0
UPLOAD_TIMEOUT_SECONDS = 30.0  # a chart of a few MB to Slack's file host
MAX_RESPONSE_BYTES = 1024 * 1024
UPLOAD = "file upload"  # the method named by errors of the upload itself


# Slack's answers that another attempt cannot change: a delivery fails at once. Anything else
# (no answer, 5xx, ratelimited, internal_error, fatal_error, ...) is retried.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "restricted_action",
        "team_access_not_granted",
        "ekm_access_denied",
        "user_not_found",
        "cannot_dm_bot",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "msg_too_long",
        "invalid_blocks",
        "invalid_arguments",
    }
)


class SlackApiError(Exception):
    """A Web API call failed: Slack's error code (``channel_not_found``, ``ratelimited``, ...)
    or the transport problem; the message names the method."""

    def __init__(self, method: str, error: str, *, retry_after: int | None = None) -> None:
        super().__init__(f"Slack {method} failed: {error}")
        self.method = method
        self.error = error
        self.retry_after = retry_after


class SlackClient:
    def __init__(
        self, *, token: str, base_url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        self._token = token
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout

    def __repr__(self) -> str:  # never the token
        return f"SlackClient(base_url={self.base_url!r})"

    async def call(self, method: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Call ``method`` with ``arguments``; Slack's answer when ``ok``, else SlackApiError."""
        return await asyncio.to_thread(self._call, method, arguments)

    async def call_form(self, method: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Like ``call``, form-encoded: for the methods that read only form arguments
        (``files.getUploadURLExternal``); a list or dict argument is sent as JSON text."""
        return await asyncio.to_thread(self._call_form, method, arguments)

    def _call(self, method: str, arguments: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(arguments).encode()
        return self._send(method, body, "application/json; charset=utf-8")

    def _call_form(self, method: str, arguments: dict[str, Any]) -> dict[str, Any]:
        fields = {
            name: value if isinstance(value, str) else json.dumps(value)
            for name, value in arguments.items()
        }
        body = urllib.parse.urlencode(fields).encode()
        return self._send(method, body, "application/x-www-form-urlencoded")

    def _send(self, method: str, body: bytes, content_type: str) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base_url + method,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": content_type,
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            retry = exc.headers.get("Retry-After", "") if exc.headers else ""
            exc.close()
            error = "ratelimited" if exc.code == 429 else f"HTTP {exc.code}"
            raise SlackApiError(
                method, error, retry_after=int(retry) if retry.isdigit() else None
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SlackApiError(method, f"cannot reach {self.base_url}: {reason}") from None
        if len(raw) > MAX_RESPONSE_BYTES:
            raise SlackApiError(method, "the answer is larger than 1 MiB")
        try:
            answer = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise SlackApiError(method, "the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise SlackApiError(method, "the answer is not a JSON object")
        if answer.get("ok") is not True:
            raise SlackApiError(method, str(answer.get("error") or "ok is not true"))
        return answer

    async def post_message(
        self,
        *,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """A message, or with ``thread_ts`` a reply in that message's thread."""
        arguments: dict[str, Any] = {"channel": channel, "text": text}
        if blocks is not None:
            arguments["blocks"] = blocks
        if thread_ts is not None:
            arguments["thread_ts"] = thread_ts
        return await self.call("chat.postMessage", arguments)

    async def update_message(
        self, *, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return await self.call(
            "chat.update", {"channel": channel, "ts": ts, "text": text, "blocks": blocks}
        )

    async def post_ephemeral(self, *, channel: str, user: str, text: str) -> dict[str, Any]:
        return await self.call(
            "chat.postEphemeral", {"channel": channel, "user": user, "text": text}
        )

    async def open_view(self, *, trigger_id: str, view: dict[str, Any]) -> dict[str, Any]:
        return await self.call("views.open", {"trigger_id": trigger_id, "view": view})

    async def team_id(self) -> str:
        """The workspace the token belongs to (``auth.test``); also proves the token works."""
        answer = await self.call("auth.test", {})
        team = answer.get("team_id")
        if not isinstance(team, str) or not team:
            raise SlackApiError("auth.test", "the answer names no team_id")
        return team

    async def open_conversation(self, user: str) -> str:
        """The id of the direct message conversation with ``user`` (``conversations.open``),
        which the methods that need a channel id (sharing a file) take."""
        answer = await self.call_form("conversations.open", {"users": user})
        channel = answer.get("channel")
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        if not isinstance(channel_id, str) or not channel_id:
            raise SlackApiError("conversations.open", "the answer names no channel id")
        return channel_id

    async def upload_file(
        self,
        *,
        content: bytes,
        filename: str,
        title: str,
        channel_id: str,
        alt_text: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Upload ``content`` and share it in ``channel_id`` (in ``thread_ts``'s thread when
        given), Slack's way: ``files.getUploadURLExternal``, the bytes to the URL it gives,
        ``files.completeUploadExternal``. Returns the file id."""
        arguments: dict[str, Any] = {"filename": filename, "length": str(len(content))}
        if alt_text:
            arguments["alt_txt"] = alt_text
        ticket = await self.call_form("files.getUploadURLExternal", arguments)
        upload_url, file_id = ticket.get("upload_url"), ticket.get("file_id")
        if not isinstance(upload_url, str) or not isinstance(file_id, str) or not file_id:
            raise SlackApiError(
                "files.getUploadURLExternal", "the answer names no upload_url and file_id"
            )
        if urllib.parse.urlsplit(upload_url).scheme not in ("https", "http"):
            raise SlackApiError("files.getUploadURLExternal", "the upload_url is not http(s)")
        await asyncio.to_thread(self._upload, upload_url, content)
        completion: dict[str, Any] = {
            "files": [{"id": file_id, "title": title}],
            "channel_id": channel_id,
        }
        if thread_ts is not None:
            completion["thread_ts"] = thread_ts
        await self.call_form("files.completeUploadExternal", completion)
        return file_id

    def _upload(self, url: str, content: bytes) -> None:
        # The raw bytes as the body, as Slack's own SDK sends them; the URL itself authorises
        # the upload, so the bot token is not sent to the file host (nor is the URL logged).
        request = urllib.request.Request(
            url,
            data=content,
            method="POST",
            headers={"Content-Type": "application/octet-stream"},
        )
        try:
            with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT_SECONDS) as response:
                response.read(MAX_RESPONSE_BYTES)
                status = response.status
        except urllib.error.HTTPError as exc:
            retry = exc.headers.get("Retry-After", "") if exc.headers else ""
            exc.close()
            error = "ratelimited" if exc.code == 429 else f"HTTP {exc.code}"
            raise SlackApiError(
                UPLOAD, error, retry_after=int(retry) if retry.isdigit() else None
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SlackApiError(UPLOAD, f"cannot reach Slack's file host: {reason}") from None
        if status != 200:
            raise SlackApiError(UPLOAD, f"HTTP {status}")
