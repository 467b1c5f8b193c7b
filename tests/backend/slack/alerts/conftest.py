"""Fixtures for alerts in Slack: north's Slack configured against the (troubled) stand-in, the
clock standing at the factories' NOW, alerts fired on hand-made rules, and clicks on an alert's
message signed as Slack signs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from backend.alerts import state as alert_state
from backend.alerts.judgement import Judgement
from backend.alerts.models import Alert
from backend.app import create_app
from backend.slack.models import SlackAlertDelivery, SlackAlertMessage
from backend.state import AppState
from backend.unit_of_work import transaction
from tests.backend.alerts.builders import add_rule
from tests.backend.slack.alerts.standin import TroubledSlackStandIn
from tests.backend.slack.conftest import BOT_TOKEN, TEAM_ID, configure_north, signed_headers
from tests.factories import NOW, World

CHANNEL = "C0ALERTS"
JUDGEMENT = Judgement(
    holds=True,
    cleared=False,
    observed=0.042,
    expected=0.06,
    message="reply_rate 0.042 is below 0.06 over 7 days to 2026-10-25",
    evidence={"window": {"start": "2026-10-19", "end": "2026-10-25"}, "value": 0.042},
)


@dataclass
class AlertsInSlack:
    state: AppState
    world: World
    slack: TroubledSlackStandIn

    def user_id(self, key: str) -> int:
        return self.world.users[key].id

    async def fire(self, *, held: list[Any] | None = None, **rule: Any) -> int:
        """Fire an alert on a new rule of org north (a team alpha rule posting to CHANNEL unless
        told otherwise); its events are dispatched after commit, or kept in ``held``."""
        values: dict[str, Any] = {
            "name": "Alpha replies",
            "scope": "team",
            "team_id": self.world.teams["alpha"].id,
            "channels": ["dashboard", "slack"],
            "slack_channel": CHANNEL,
            "threshold": 0.06,
            "direction": "below",
        }
        values |= rule
        async with transaction(self.state.sessions, hold=held) as session:
            created = await add_rule(session, self.world.orgs["north"].id, **values)
            key = (
                f"agent:{created.agent_id}"
                if created.agent_id
                else f"team:{created.team_id}"
                if created.team_id
                else "organization"
            )
            subject = alert_state.Subject(key, created.team_id, created.agent_id, None)
            await alert_state.apply_judgement(session, created, subject, JUDGEMENT, now=NOW)
            alert = await alert_state.open_alert(session, created, key)
            assert alert is not None
            return alert.id

    async def alert(self, alert_id: int) -> Alert:
        async with self.state.sessions() as session:
            return await session.get_one(Alert, alert_id)

    async def messages(self) -> list[SlackAlertMessage]:
        async with self.state.sessions() as session:
            rows = await session.scalars(select(SlackAlertMessage).order_by(SlackAlertMessage.id))
            return list(rows)

    async def deliveries(self) -> list[SlackAlertDelivery]:
        async with self.state.sessions() as session:
            rows = await session.scalars(select(SlackAlertDelivery).order_by(SlackAlertDelivery.id))
            return list(rows)


@pytest.fixture
def troubled_slack() -> Iterator[TroubledSlackStandIn]:
    with TroubledSlackStandIn(token=BOT_TOKEN, team_id=TEAM_ID) as slack:
        yield slack


@pytest.fixture
async def alerts(
    state: AppState, world: World, troubled_slack: TroubledSlackStandIn
) -> AlertsInSlack:
    """North's Slack configured (rep_a1, manager_a and rep_b1 mapped), no default channel; the
    clock at NOW: nothing here reads the wall clock (clicks are signed at NOW too, as Slack's
    5-minute window is checked against the app's clock)."""
    state.clock = lambda: NOW
    await configure_north(state, world, troubled_slack.base_url)
    return AlertsInSlack(state, world, troubled_slack)


@pytest.fixture
def app(alerts: AlertsInSlack) -> Iterator[TestClient]:
    """The real app on the same database, its clock at NOW."""
    with TestClient(create_app(alerts.state.settings, clock=lambda: NOW)) as client:
        yield client


def alert_click(
    user: str,
    message: SlackAlertMessage,
    action_id: str,
    *,
    value: str | None = None,
    selected: str | None = None,
    trigger: str = "13345224609.738474920.8088930838d88f008e0",
    team: str = TEAM_ID,
) -> dict[str, Any]:
    """A ``block_actions`` payload: ``user`` used ``action_id`` on the alert's ``message``."""
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": "alert",
        "action_ts": "1700000100.123456",
    }
    if selected is not None:
        action |= {
            "type": "static_select",
            "selected_option": {
                "text": {"type": "plain_text", "text": "1 hour"},
                "value": selected,
            },
            "placeholder": {"type": "plain_text", "text": "Snooze"},
        }
    else:
        action |= {"type": "button", "value": value or "", "text": {"type": "plain_text"}}
    return {
        "type": "block_actions",
        "team": {"id": team, "domain": "north"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0APP",
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": False,
        },
        "trigger_id": trigger,
        "channel": {"id": message.channel, "name": "alerts"},
        "message": {"type": "message", "ts": message.ts, "text": "..."},
        "response_url": "https://hooks.slack.invalid/actions/T0NORTH01/1/abc",
        "actions": [action],
    }


def interact(app: TestClient, payload: dict[str, Any]) -> httpx2.Response:
    """``payload`` clicked, signed at the app's clock (NOW)."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    signed = signed_headers(body, timestamp=int(NOW.timestamp()))
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed}
    return app.post("/webhooks/slack/interactions", content=body, headers=headers)
