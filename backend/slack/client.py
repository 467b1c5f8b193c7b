"""A small client of Slack's Web API: ``POST {base}/{method}`` with a JSON body and the bot
token as bearer, answered ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``.

The standard library's urllib runs in a worker thread (the event loop never blocks); the base
URL is configurable so tests point it at a local stand-in. The token is never logged.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_RESPONSE_BYTES = 1024 * 1024


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

    def _call(self, method: str, arguments: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base_url + method,
            data=json.dumps(arguments).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json; charset=utf-8",
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
