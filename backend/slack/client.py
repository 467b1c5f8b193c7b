"""Slack's Web API through Slack's own SDK (``slack_sdk.WebClient``): ``POST {base}/{method}``
with a JSON body (a form body for the methods that want one) and the bot token as bearer,
answered ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``; and file uploads to the URL
Slack hands out for them.

The SDK's retry handlers retry a call whose connection failed and one Slack answered 5xx, with
exponential backoff; a 429 is not waited out here but raised with its Retry-After, which the
deliveries' outbox honours (a worker never sleeps minutes inside one call). The SDK runs in a
worker thread (the event loop never blocks); the base URL is configurable so tests point it at
a local stand-in. The token is never logged.
"""

from __future__ import annotations

import asyncio
import json
import math
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from slack_sdk import WebClient
from slack_sdk import errors as slack_errors
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    ServerErrorRetryHandler,
)

from backend.webhooks.headers import ascii_int

DEFAULT_TIMEOUT_SECONDS = 5.0
RETRIES = 2  # more attempts of a call whose connection failed or that Slack answered 5xx
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


def _refusal(method: str, response: Any) -> SlackApiError:
    """Our error for an answer the SDK refused: Slack's error code, ``ratelimited`` with its
    Retry-After, or the HTTP status of an answer that is not Slack's JSON."""
    status = getattr(response, "status_code", 200)
    data = getattr(response, "data", None)
    if status == 429:
        retry = str((getattr(response, "headers", None) or {}).get("Retry-After", "")).strip()
        return SlackApiError(method, "ratelimited", retry_after=ascii_int(retry))
    if status >= 500:  # an upstream page, not Slack's JSON
        return SlackApiError(method, f"HTTP {status}")
    if isinstance(data, dict) and data.get("error"):
        return SlackApiError(method, str(data["error"]))
    if status >= 400:
        return SlackApiError(method, f"HTTP {status}")
    return SlackApiError(method, "ok is not true")


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
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self._web = WebClient(
            token=token,
            base_url=self.base_url,
            timeout=max(1, math.ceil(timeout)),
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=RETRIES),
                ServerErrorRetryHandler(max_retry_count=RETRIES),
            ],
        )

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
        return self._send(method, body=arguments)

    def _call_form(self, method: str, arguments: dict[str, Any]) -> dict[str, Any]:
        fields = {
            name: value if isinstance(value, str) else json.dumps(value)
            for name, value in arguments.items()
        }
        return self._send(method, params=fields)

    def _send(
        self,
        method: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            answer = self._web.api_call(method, json=body, params=params)
        except slack_errors.SlackApiError as exc:
            raise _refusal(method, exc.response) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SlackApiError(method, f"cannot reach {self.base_url}: {reason}") from None
        except slack_errors.SlackClientError as exc:
            raise SlackApiError(method, f"the answer is not usable: {exc}") from None
        data = answer.data
        if not isinstance(data, dict):
            raise SlackApiError(method, "the answer is not a JSON object")
        return data

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
