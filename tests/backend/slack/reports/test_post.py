"""Posting a report to Slack against the stand-in: the summary's blocks and text as given, the
chart's bytes as given (uploaded to the file host, shared right after the summary), to a channel
or to a member's direct message; Slack's refusals and rate limits as SlackApiError; bad
arguments refused before Slack is called."""

from __future__ import annotations

import io
import json
import urllib.request
from typing import Any

import pytest
from PIL import Image

from backend.slack.client import SlackApiError, SlackClient
from backend.slack.report_post import (
    MAX_IMAGE_BYTES,
    ChartNotShared,
    is_permanent,
    post_report,
)
from tests.backend.slack.conftest import BOT_TOKEN
from tests.backend.slack.reports.standin import ReportSlackStandIn, Share

BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Team alpha · week 43"}},
    {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": "*Reply rate*\n4.2 % (−1.8 pt)"},
            {"type": "mrkdwn", "text": "*Calibration error*\n0.031"},
        ],
    },
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "report_open",
                "text": {"type": "plain_text", "text": "Open"},
                "url": "https://sales.example.com/?team=3&range=2026-10-19..2026-10-25",
            }
        ],
    },
]
TEXT = "Team alpha, week 43: reply rate 4.2 % (−1.8 pt), calibration error 0.031"


async def post(client: SlackClient, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "channel": "C0REPORTS",
        "blocks": BLOCKS,
        "text": TEXT,
        "image_png": None,
        "image_title": "Reply rate, week 43",
        "filename": "reply-rate-2026-w43.png",
    }
    return await post_report(client, **(arguments | overrides))


async def test_a_report_to_a_channel_carries_its_blocks_and_its_chart(
    slack: ReportSlackStandIn, client: SlackClient, chart: bytes
) -> None:
    posted = await post(client, image_png=chart, alt_text="Reply rate by day, falling")

    assert slack.methods() == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    (message,) = slack.of("chat.postMessage")
    assert message.content_type == "application/json;charset=utf-8"  # as Slack's SDK sends it
    assert message.arguments == {"channel": "C0REPORTS", "text": TEXT, "blocks": BLOCKS}
    (ticket,) = slack.of("files.getUploadURLExternal")
    assert ticket.arguments == {
        "filename": "reply-rate-2026-w43.png",
        "length": str(len(chart)),
        "alt_txt": "Reply rate by day, falling",
    }
    (upload,) = slack.uploads.values()
    assert upload.content == chart
    assert upload.content is not None and upload.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(upload.content)).size == (320, 200)
    # Right after the summary in the same conversation, not in its thread.
    assert slack.shares == [Share(upload.file_id, "Reply rate, week 43", "C0REPORTS", None)]
    assert posted == {"channel": "C0REPORTS", "ts": "1700000000.000100", "file_id": upload.file_id}


async def test_a_report_to_a_member_goes_to_their_direct_message(
    slack: ReportSlackStandIn, client: SlackClient, chart: bytes
) -> None:
    posted = await post(client, channel="UMGRA", image_png=chart)

    assert slack.methods() == [
        "conversations.open",
        "chat.postMessage",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert slack.of("conversations.open")[0].arguments == {"users": "UMGRA"}
    assert slack.of("chat.postMessage")[0].arguments == {
        "channel": "DMGRA",
        "text": TEXT,
        "blocks": BLOCKS,
    }
    (upload,) = slack.uploads.values()
    assert upload.content == chart
    assert slack.shares == [Share(upload.file_id, "Reply rate, week 43", "DMGRA", None)]
    assert posted == {"channel": "DMGRA", "ts": "1700000000.000100", "file_id": upload.file_id}


async def test_a_report_without_a_chart_is_its_summary_alone(
    slack: ReportSlackStandIn, client: SlackClient
) -> None:
    posted = await post(client, channel="G0PRIVATE")

    assert slack.methods() == ["chat.postMessage"]
    assert slack.uploads == {} and slack.shares == []
    assert posted == {"channel": "G0PRIVATE", "ts": "1700000000.000100", "file_id": None}


async def test_the_bot_token_goes_to_the_web_api_never_to_the_file_host(
    slack: ReportSlackStandIn, client: SlackClient, chart: bytes
) -> None:
    await post(client, channel="UMGRA", image_png=chart)

    assert {call.authorization for call in slack.calls} == {f"Bearer {BOT_TOKEN}"}
    (upload,) = slack.uploads.values()
    assert upload.headers  # the upload's headers were recorded ...
    assert "authorization" not in upload.headers.lower()  # ... without any credentials
    assert BOT_TOKEN not in upload.headers
    assert upload.content_type == "application/octet-stream"


async def test_a_refused_share_raises_slacks_code_and_says_the_summary_went_out(
    slack: ReportSlackStandIn, client: SlackClient, chart: bytes
) -> None:
    slack.failures["files.completeUploadExternal"] = "not_in_channel"

    with pytest.raises(SlackApiError) as raised:
        await post(client, image_png=chart)

    error = raised.value
    assert isinstance(error, ChartNotShared)
    assert (error.method, error.error, error.retry_after) == (
        "files.completeUploadExternal",
        "not_in_channel",
        None,
    )
    assert (error.channel, error.ts) == ("C0REPORTS", "1700000000.000100")
    assert is_permanent(error)
    assert slack.shares == []


async def test_a_refused_summary_raises_before_any_upload(
    slack: ReportSlackStandIn, client: SlackClient, chart: bytes
) -> None:
    slack.failures["chat.postMessage"] = "channel_not_found"

    with pytest.raises(SlackApiError) as raised:
        await post(client, image_png=chart)

    assert not isinstance(raised.value, ChartNotShared)
    assert (raised.value.method, raised.value.error) == ("chat.postMessage", "channel_not_found")
    assert is_permanent(raised.value)
    assert slack.methods() == ["chat.postMessage"]


async def test_a_wrong_token_is_invalid_auth_for_good(
    slack: ReportSlackStandIn, chart: bytes
) -> None:
    client = SlackClient(token="xoxb-revoked", base_url=slack.base_url)

    with pytest.raises(SlackApiError) as raised:
        await post(client, channel="UMGRA", image_png=chart)

    assert (raised.value.method, raised.value.error) == ("conversations.open", "invalid_auth")
    assert is_permanent(raised.value)


@pytest.mark.parametrize(
    "method", ["chat.postMessage", "files.getUploadURLExternal", "files.completeUploadExternal"]
)
async def test_a_rate_limit_gives_its_retry_after(
    slack: ReportSlackStandIn, client: SlackClient, chart: bytes, method: str
) -> None:
    slack.statuses[method] = (429, {"Retry-After": "30"})

    with pytest.raises(SlackApiError) as raised:
        await post(client, image_png=chart)

    assert (raised.value.method, raised.value.error) == (method, "ratelimited")
    assert raised.value.retry_after == 30
    assert not is_permanent(raised.value)


async def test_the_file_host_in_trouble_is_worth_retrying(
    slack: ReportSlackStandIn, client: SlackClient, chart: bytes
) -> None:
    slack.upload_status = (429, {"Retry-After": "7"})
    with pytest.raises(ChartNotShared) as limited:
        await post(client, image_png=chart)
    assert (limited.value.method, limited.value.error) == ("file upload", "ratelimited")
    assert limited.value.retry_after == 7
    assert not is_permanent(limited.value)

    slack.upload_status = (503, {})
    with pytest.raises(ChartNotShared) as down:
        await post(client, image_png=chart)
    assert (down.value.error, down.value.retry_after) == ("HTTP 503", None)
    assert not is_permanent(down.value)
    assert slack.shares == []
    assert "files.completeUploadExternal" not in slack.methods()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"blocks": [{"type": "divider"}] * 51}, "blocks must be at most 50, got 51"),
        ({"blocks": []}, "blocks is empty"),
        ({"blocks": ["not a block"]}, "blocks must be a list of Block Kit blocks"),
        ({"text": ""}, "text is empty"),
        ({"text": "  \n"}, "text is empty"),
        ({"text": "x" * 40_001}, "text must be at most 40000 characters, got 40001"),
        ({"channel": "#reports"}, "channel must be a channel id"),
        ({"channel": ""}, "channel must be a channel id"),
        ({"image_png": b"GIF89a..."}, "image_png is not a PNG"),
        ({"image_png": b""}, "image_png is not a PNG"),
        (
            {"image_png": b"\x89PNG\r\n\x1a\n" + bytes(MAX_IMAGE_BYTES)},
            f"image_png must be at most {MAX_IMAGE_BYTES} bytes, got {MAX_IMAGE_BYTES + 8}",
        ),
        ({"image_png": b"\x89PNG\r\n\x1a\n", "image_title": " "}, "image_title is empty"),
        ({"image_png": b"\x89PNG\r\n\x1a\n", "filename": ""}, "filename must be a plain"),
        ({"image_png": b"\x89PNG\r\n\x1a\n", "filename": "../x.png"}, "filename must be a plain"),
    ],
)
async def test_bad_arguments_are_refused_before_slack_is_called(
    slack: ReportSlackStandIn, client: SlackClient, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        await post(client, **overrides)
    assert slack.calls == []


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        ("channel_not_found", True),
        ("not_in_channel", True),
        ("invalid_auth", True),
        ("missing_scope", True),
        ("file_uploads_disabled", True),
        ("ratelimited", False),
        ("internal_error", False),
        ("HTTP 503", False),
    ],
)
def test_permanent_errors(error: str, permanent: bool) -> None:
    assert is_permanent(SlackApiError("files.completeUploadExternal", error)) is permanent


# --- the stand-in checks what Slack checks ---


async def test_the_stand_in_refuses_a_share_whose_bytes_never_came(
    slack: ReportSlackStandIn, client: SlackClient
) -> None:
    ticket = await client.call_form(
        "files.getUploadURLExternal", {"filename": "chart.png", "length": "10"}
    )
    with pytest.raises(SlackApiError, match="upload_incomplete"):
        await client.call_form(
            "files.completeUploadExternal",
            {"files": [{"id": ticket["file_id"], "title": "t"}], "channel_id": "C0REPORTS"},
        )
    with pytest.raises(SlackApiError, match="file_not_found"):
        await client.call_form("files.completeUploadExternal", {"files": [{"id": "F404"}]})


async def test_the_stand_in_file_host_takes_a_multipart_form_too(
    slack: ReportSlackStandIn, client: SlackClient, chart: bytes
) -> None:
    ticket = await client.call_form(
        "files.getUploadURLExternal", {"filename": "chart.png", "length": str(len(chart))}
    )
    boundary = "----report-chart"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="chart.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + chart
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        ticket["upload_url"],
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert (response.status, response.read()) == (200, f"OK - {len(body)}".encode())
    assert slack.uploads[ticket["file_id"]].content == chart
    answer = await client.call_form(
        "files.completeUploadExternal",
        {"files": json.dumps([{"id": ticket["file_id"], "title": "Chart"}]), "channel_id": "C1"},
    )
    assert answer["files"] == [{"id": ticket["file_id"], "title": "Chart"}]
