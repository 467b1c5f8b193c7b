"""Posting a periodic report to Slack: its Block Kit summary as a message, then its main chart as
an image shared right after it in the same conversation (a channel, or a direct message).

Failures raise ``SlackApiError`` with Slack's error code (and ``retry_after`` for 429); the
caller's retry logic asks ``is_permanent`` whether another attempt could change anything.
"""

from __future__ import annotations

from typing import Any

from backend.slack.client import PERMANENT_ERRORS, SlackApiError, SlackClient

MAX_BLOCKS = 50  # Slack's limit for one message
MAX_TEXT_CHARS = 40_000  # Slack answers msg_too_long beyond this
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # a chart is tens of KB; more than this is a bug upstream
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNEL_PREFIXES = ("C", "G", "D")  # a public channel, a private one, a direct message
USER_PREFIXES = ("U", "W")  # a member, an Enterprise Grid member

# Besides the alerts' list: the workspace does not take this file, and never will by retrying.
UPLOAD_REFUSALS = frozenset(
    {
        "file_uploads_disabled",
        "file_uploads_except_images_disabled",
        "file_upload_size_restricted",
        "file_type_not_allowed",
        "invalid_channel",
        "alt_txt_too_large",
    }
)


class ChartNotShared(SlackApiError):
    """The summary was posted (``channel``, ``ts``) but its chart was not: a retry can share
    the chart alone (``SlackClient.upload_file``) instead of posting the summary again."""

    def __init__(self, cause: SlackApiError, *, channel: str, ts: str) -> None:
        super().__init__(cause.method, cause.error, retry_after=cause.retry_after)
        self.channel = channel
        self.ts = ts


def is_permanent(error: SlackApiError) -> bool:
    """Whether Slack refused for good (``channel_not_found``, ``not_in_channel``,
    ``invalid_auth``, uploads disabled, ...); anything else (no answer, 5xx, ``ratelimited``,
    ``internal_error``) may pass on a later attempt."""
    return error.error in PERMANENT_ERRORS or error.error in UPLOAD_REFUSALS


async def post_report(
    client: SlackClient,
    *,
    channel: str,
    blocks: list[dict[str, Any]],
    text: str,
    image_png: bytes | None,
    image_title: str,
    filename: str,
    alt_text: str | None = None,
) -> dict[str, Any]:
    """Post a report's summary to ``channel`` (a channel id ``C...``/``G...``/``D...``, or a
    member id ``U...``/``W...`` for a direct message) and, when ``image_png`` is given, share
    that chart right after it in the same conversation.

    ``text`` is the notification's fallback; ``alt_text`` describes the chart to screen
    readers. Returns ``{"channel": <conversation id>, "ts": <the summary's ts>, "file_id":
    <the chart's file id, or None>}``.

    Raises ValueError on bad arguments before calling Slack, ``SlackApiError`` when Slack
    refuses or cannot be reached, and its subclass ``ChartNotShared`` when only the chart
    failed.
    """
    _check(channel, blocks, text, image_png, image_title, filename)
    if channel.startswith(USER_PREFIXES):
        # Sharing a file needs a conversation id, so a member's DM is opened first.
        channel = await client.open_conversation(channel)
    posted = await client.post_message(channel=channel, text=text, blocks=blocks)
    conversation, ts = str(posted.get("channel") or channel), posted.get("ts")
    if not isinstance(ts, str) or not ts:
        raise SlackApiError("chat.postMessage", "the answer names no ts")
    file_id = None
    if image_png is not None:
        try:
            file_id = await client.upload_file(
                content=image_png,
                filename=filename,
                title=image_title,
                channel_id=conversation,
                alt_text=alt_text,
            )
        except SlackApiError as exc:
            raise ChartNotShared(exc, channel=conversation, ts=ts) from exc
    return {"channel": conversation, "ts": ts, "file_id": file_id}


def _check(
    channel: str,
    blocks: list[dict[str, Any]],
    text: str,
    image_png: bytes | None,
    image_title: str,
    filename: str,
) -> None:
    if not channel.startswith(CHANNEL_PREFIXES + USER_PREFIXES) or not channel.isalnum():
        raise ValueError(
            f"channel must be a channel id (C..., G..., D...) or a member id (U..., W...), "
            f"got {channel!r}"
        )
    if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
        raise ValueError("blocks must be a list of Block Kit blocks (dicts)")
    if not blocks:
        raise ValueError("blocks is empty")
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"blocks must be at most {MAX_BLOCKS}, got {len(blocks)}")
    if not text.strip():
        raise ValueError("text is empty: it is the notification's fallback")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text must be at most {MAX_TEXT_CHARS} characters, got {len(text)}")
    if image_png is None:
        return
    if not image_png.startswith(PNG_SIGNATURE):
        raise ValueError("image_png is not a PNG (no PNG signature)")
    if len(image_png) > MAX_IMAGE_BYTES:
        raise ValueError(f"image_png must be at most {MAX_IMAGE_BYTES} bytes, got {len(image_png)}")
    if not image_title.strip():
        raise ValueError("image_title is empty")
    if not filename.strip() or "/" in filename or "\\" in filename:
        raise ValueError(f"filename must be a plain file name, got {filename!r}")
