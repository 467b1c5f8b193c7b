"""Fixtures for Slack feedback: the real app over HTTP on each database, the local Slack stand-in,
a world whose north organisation has Slack configured and two of rep_a1's actions mirrored
(an e-mail, rated with thumbs; a stage change, a decision rated 1..5), and requests signed with
Slack's own SignatureVerifier as Slack signs them."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import delete, select
from starlette.testclient import TestClient

import backend.models as models
from backend.actions.service import ActionInput
from backend.app import create_app
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_api_client
from backend.database import utcnow
from backend.feedback.models import Feedback
from backend.handlers import open_state
from backend.learning import submit_action
from backend.orgs.models import User
from backend.settings import load_settings
from backend.slack.models import SlackEventReceipt, SlackPost
from backend.slack.posts import mirror_action
from backend.slack.service import configure_slack
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.backend.slack.standin import SlackStandIn
from tests.factories import World, build_world

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
TEAM_ID = "T0NORTH01"
SLACK_IDS = {"rep_a1": "UREPA1", "manager_a": "UMGRA", "rep_b1": "UREPB1"}


@dataclass
class SlackWorld:
    client: TestClient
    state: AppState
    world: World
    slack: SlackStandIn
    email_post: SlackPost  # rep_a1's agent's e-mail: thumbs on the message
    decision_post: SlackPost  # rep_a1's agent's stage change: a decision, 1..5
    message_id: int  # the e-mail's message row

    def user_id(self, key: str) -> int:
        return self.world.users[key].id

    # --- signed requests, as Slack sends them ---

    def interact(
        self, payload: dict[str, Any], *, secret: str | None = None, timestamp: int | None = None
    ) -> httpx2.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            **signed_headers(body, secret, timestamp),
        }
        return self.client.post("/webhooks/slack/interactions", content=body, headers=headers)

    def event(
        self,
        envelope: dict[str, Any],
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        retry: int | None = None,
    ) -> httpx2.Response:
        body = json.dumps(envelope).encode()
        headers = {"Content-Type": "application/json", **signed_headers(body, secret, timestamp)}
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return self.client.post("/webhooks/slack/events", content=body, headers=headers)

    # --- what is stored ---

    async def feedback(self) -> list[Feedback]:
        async with self.state.sessions() as session:
            return list(await session.scalars(select(Feedback).order_by(Feedback.id)))

    async def receipts(self) -> list[str]:
        async with self.state.sessions() as session:
            rows = await session.scalars(select(SlackEventReceipt.event_id).order_by("id"))
            return list(rows)


def signed_headers(
    body: bytes, secret: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's signature headers on ``body``, made with Slack's own SDK."""
    signed_at = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret or SIGNING_SECRET).generate_signature(
        timestamp=signed_at, body=body
    )
    assert signature is not None
    return {"X-Slack-Request-Timestamp": signed_at, "X-Slack-Signature": signature}


# --- payloads in the shapes Slack documents ---


def click(
    user: str,
    post: SlackPost,
    action_id: str,
    *,
    value: str | None = None,
    selected: str | None = None,
    trigger: str = "13345224609.738474920.8088930838d88f008e0",
    team: str = TEAM_ID,
) -> dict[str, Any]:
    """A ``block_actions`` payload: ``user`` clicked ``action_id`` on our message ``post``."""
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": "feedback",
        "action_ts": "1700000100.123456",
    }
    if selected is not None:
        action |= {
            "type": "static_select",
            "selected_option": {
                "text": {"type": "plain_text", "text": selected},
                "value": selected,
            },
        }
    else:
        action |= {
            "type": "button",
            "value": value or "",
            "text": {"type": "plain_text", "text": action_id},
        }
    return {
        "type": "block_actions",
        "team": {"id": team, "domain": "north"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0APP",
        "token": "verification-token-unused",
        "container": {
            "type": "message",
            "message_ts": post.ts,
            "channel_id": post.channel,
            "is_ephemeral": False,
        },
        "trigger_id": trigger,
        "channel": {"id": post.channel, "name": "directmessage"},
        "message": {"type": "message", "ts": post.ts, "text": "..."},
        "response_url": "https://hooks.slack.invalid/actions/T0NORTH01/1/abc",
        "actions": [action],
    }


def view_submission(
    user: str,
    private_metadata: str,
    *,
    rating: str | None,
    comment: str | None,
    view_id: str = "VMHU10V25",
    team: str = TEAM_ID,
) -> dict[str, Any]:
    rating_state = {
        "type": "static_select",
        "selected_option": None
        if rating is None
        else {"text": {"type": "plain_text", "text": rating}, "value": rating},
    }
    return {
        "type": "view_submission",
        "team": {"id": team, "domain": "north"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0APP",
        "trigger_id": "12466734323.1395872398.cc8e4d4a8a9b1a9d9e4a4c0b5e1ba5e9",
        "view": {
            "id": view_id,
            "type": "modal",
            "callback_id": "feedback_comment",
            "private_metadata": private_metadata,
            "hash": "156772938.1827394",
            "state": {
                "values": {
                    "rating": {"rating": rating_state},
                    "comment": {"comment": {"type": "plain_text_input", "value": comment}},
                }
            },
        },
        "response_urls": [],
    }


def reaction(
    event_id: str,
    user: str,
    post: SlackPost | tuple[str, str],
    name: str,
    *,
    added: bool = True,
    team: str = TEAM_ID,
) -> dict[str, Any]:
    channel, ts = (post.channel, post.ts) if isinstance(post, SlackPost) else post
    return {
        "token": "verification-token-unused",
        "team_id": team,
        "api_app_id": "A0APP",
        "event": {
            "type": "reaction_added" if added else "reaction_removed",
            "user": user,
            "reaction": name,
            "item_user": "UBOT",
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": "1700000200.000100",
        },
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1700000200,
        "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
    }


async def _record_actions(state: AppState, world: World) -> tuple[int, int, int]:
    async with transaction(state.sessions) as session:
        key = await create_api_key(
            session,
            viewer=Viewer.system(world.orgs["north"].id),
            kind=ApiClientKind.AGENT,
            name="agent",
            agent_id=world.agents["rep_a1"].id,
        )
        agent = await viewer_for_api_client(session, key.client)
    now = utcnow()
    email = await submit_action(
        state,
        agent,
        ActionInput(
            action_type="email",
            confidence=0.72,
            idempotency_key="email-1",
            occurred_at=now - dt.timedelta(hours=1),
            message_external_id="<intro-1@mail>",
            thread_external_id="thread-1",
            subject="Intro to Acme",
        ),
        now=now,
    )
    stage = await submit_action(
        state,
        agent,
        ActionInput(
            action_type="stage_progression",
            confidence=0.6,
            idempotency_key="stage-1",
            occurred_at=now - dt.timedelta(hours=1),
            deal_external_id="deal-1",
        ),
        now=now,
    )
    assert email.action.message_id is not None
    return email.action.id, stage.action.id, email.action.message_id


async def configure_north(state: AppState, world: World, base_url: str) -> None:
    async with transaction(state.sessions) as session:
        for key, slack_id in SLACK_IDS.items():
            user = await session.get(User, world.users[key].id)
            assert user is not None
            user.slack_user_id = slack_id
        await configure_slack(
            session,
            organization_id=world.orgs["north"].id,
            secret_key=state.settings.secret_key,
            slack_team_id=TEAM_ID,
            signing_secret=SIGNING_SECRET,
            bot_token=BOT_TOKEN,
            api_base_url=base_url,
        )


@pytest.fixture
def stand_in() -> Iterator[SlackStandIn]:
    with SlackStandIn(token=BOT_TOKEN, team_id=TEAM_ID) as slack:
        yield slack


@pytest.fixture
async def state(database_url: str) -> AsyncIterator[AppState]:
    # No prompt budget: the stage change is mirrored as a plain decision here; prompts have
    # their own tests (tests/backend/prompts).
    settings = load_settings(
        database_url=database_url,
        worker_in_process=False,
        public_base_url="http://dashboard.test",
        prompt_daily_budget=0,
    )
    state = open_state(settings)
    try:
        yield state
    finally:
        # Row by row in dependency order: on a database this small, much faster than TRUNCATE.
        async with state.engine.begin() as connection:
            for table in reversed(models.Base.metadata.sorted_tables):
                await connection.execute(delete(table))
        await state.close()


@pytest.fixture
async def world(state: AppState) -> World:
    async with transaction(state.sessions) as session:
        return await build_world(session, actions_per_agent=0)


async def prepare(
    state: AppState, world: World, stand_in: SlackStandIn
) -> tuple[SlackPost, SlackPost, int]:
    """Configure north's Slack and mirror rep_a1's e-mail and stage change to them."""
    await configure_north(state, world, stand_in.base_url)
    email_id, stage_id, message_id = await _record_actions(state, world)
    email_post = await mirror_action(state, email_id)
    decision_post = await mirror_action(state, stage_id)
    assert email_post is not None and decision_post is not None
    stand_in.clear()
    return email_post, decision_post, message_id


@pytest.fixture
async def slack(state: AppState, world: World, stand_in: SlackStandIn) -> AsyncIterator[SlackWorld]:
    email_post, decision_post, message_id = await prepare(state, world, stand_in)
    with TestClient(create_app(state.settings)) as client:
        yield SlackWorld(client, state, world, stand_in, email_post, decision_post, message_id)
