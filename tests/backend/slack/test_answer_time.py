"""Slack waits 3 seconds for an answer: the rating is stored and answered at once, and the
message is updated after the answer, even when Slack's API is slow. A real uvicorn server."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import uvicorn
from sqlalchemy import select

from backend.app import create_app
from backend.feedback.models import Feedback
from backend.state import AppState
from tests.backend.slack.conftest import click, prepare, signed_headers
from tests.backend.slack.standin import SlackStandIn
from tests.factories import World

SLOW_SLACK_SECONDS = 2.0


def _serve(state: AppState) -> tuple[uvicorn.Server, threading.Thread, str]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(state.settings), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    host, port = listener.getsockname()
    return server, thread, f"http://{host}:{port}"


def _post(url: str, payload: dict) -> tuple[int, float]:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)}
    started = time.monotonic()
    with urlopen(Request(url, data=body, headers=headers, method="POST"), timeout=10) as answer:
        answer.read()
        return answer.status, time.monotonic() - started


async def test_the_click_is_answered_before_slack_is_called_back(
    state: AppState, world: World, stand_in: SlackStandIn
) -> None:
    email_post, _, message_id = await prepare(state, world, stand_in)
    stand_in.delays["chat.update"] = SLOW_SLACK_SECONDS
    server, thread, base = _serve(state)
    try:
        payload = click("UREPA1", email_post, "feedback_up", value="up")
        status, seconds = await asyncio.to_thread(
            _post, base + "/webhooks/slack/interactions", payload
        )
        assert status == 200
        assert seconds < SLOW_SLACK_SECONDS  # not held up by the slow chat.update
        async with state.sessions() as session:  # stored before the answer
            rows = list(await session.scalars(select(Feedback)))
        assert [(r.message_id, r.rating) for r in rows] == [(message_id, 1)]
        deadline = time.monotonic() + 10
        while not stand_in.of("chat.update") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        [update] = stand_in.of("chat.update")
        assert update.arguments["ts"] == email_post.ts
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)
