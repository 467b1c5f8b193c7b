"""Fixtures for reports in Slack: the report stand-in (Web API and file host on one local
server), a client of it with north's bot token, and a real PNG chart."""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Iterator

import pytest

from backend.slack.client import SlackClient
from tests.backend.slack.conftest import BOT_TOKEN, TEAM_ID
from tests.backend.slack.reports.standin import ReportSlackStandIn


@pytest.fixture
def slack() -> Iterator[ReportSlackStandIn]:
    with ReportSlackStandIn(token=BOT_TOKEN, team_id=TEAM_ID) as stand_in:
        yield stand_in


@pytest.fixture
def client(slack: ReportSlackStandIn) -> SlackClient:
    return SlackClient(token=BOT_TOKEN, base_url=slack.base_url)


def png(width: int, height: int, *, seed: int = 14) -> bytes:
    """A valid RGB PNG of random pixels: incompressible, so it is about 3 bytes a pixel, and
    every byte value occurs in it."""
    noise = random.Random(seed)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + noise.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def chart() -> bytes:
    return png(320, 200)  # about 190 KB
