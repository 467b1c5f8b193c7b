"""Alerts in Slack: each change is queued once per message after commit and shown by the worker
against the local Slack stand-in: posted once, updated as the alert changes, reminded in the
thread; Slack down, rate-limiting or refusing: rows wait, back off, or fail with their error."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
from typing import Any

import pytest
from sqlalchemy import update

from backend.alerts import state as alert_state
from backend.alerts.reminders import remind_unacknowledged
from backend.outbox import MAX_ATTEMPTS, backoff
from backend.slack.alert_delivery import deliver_slack_alerts
from backend.slack.client import RETRIES
from backend.slack.models import SlackInstallation
from backend.unit_of_work import transaction
from tests.backend.slack.alerts.conftest import CHANNEL, AlertsInSlack
from tests.factories import NOW


def _block(blocks: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((b for b in blocks if b["type"] == kind), None)


def _controls(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    actions = _block(blocks, "actions")
    return {} if actions is None else {e["action_id"]: e for e in actions["elements"]}


def _state_line(blocks: list[dict[str, Any]]) -> str:
    context = _block(blocks, "context")
    assert context is not None
    return str(context["elements"][0]["text"])


async def test_a_new_alert_is_posted_once_to_the_rule_s_channel_with_its_controls(
    alerts: AlertsInSlack,
) -> None:
    held: list[Any] = []
    alert_id = await alerts.fire(held=held)
    await alerts.state.bus.dispatch(held)
    await alerts.state.bus.dispatch(held)  # a retried event queues nothing more
    [delivery] = await alerts.deliveries()
    assert (delivery.change, delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        "created",
        "pending",
        0,
        NOW,
    )
    assert alerts.slack.calls == []  # nothing is sent in the alert's unit of work

    assert await deliver_slack_alerts(alerts.state, now=NOW) == 1
    [post] = alerts.slack.of("chat.postMessage")
    assert post.arguments["channel"] == CHANNEL
    assert post.arguments["text"] == (
        "[WARNING] Alpha replies: reply_rate 0.042 is below 0.06 over 7 days to 2026-10-25"
    )
    blocks = post.arguments["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "🟠 WARNING · Alpha replies", "emoji": True},
    }
    assert blocks[1]["text"]["text"] == JUDGEMENT_MESSAGE
    assert [f["text"] for f in blocks[2]["fields"]] == [
        "*Value*\n0.042",
        "*Threshold*\n0.06",
        "*Window*\n2026-10-19 to 2026-10-25",
        "*Scope*\nTeam alpha",
        "*Metric*\nreply_rate",
    ]
    assert _state_line(blocks) == (
        f"🚨 *Firing* since <!date^{int(NOW.timestamp())}^{{date_short_pretty}} {{time}}"
        "|2026-11-02 15:30 UTC>"
    )
    controls = _controls(blocks)
    assert list(controls) == ["alert_acknowledge", "alert_snooze", "alert_open"]
    assert controls["alert_acknowledge"]["value"] == str(alert_id)
    assert [o["value"] for o in controls["alert_snooze"]["options"]] == [
        f"{alert_id}:1h",
        f"{alert_id}:4h",
        f"{alert_id}:1d",
    ]
    assert [o["text"]["text"] for o in controls["alert_snooze"]["options"]] == [
        "1 hour",
        "4 hours",
        "1 day",
    ]
    assert controls["alert_open"]["url"] == f"http://dashboard.test/?alert={alert_id}"

    [message] = await alerts.messages()
    assert (message.alert_id, message.target, message.user_id) == (alert_id, CHANNEL, None)
    assert (message.channel, message.ts, message.posted_at) == (CHANNEL, "1700000000.000100", NOW)
    [delivery] = await alerts.deliveries()
    assert (delivery.status, delivery.attempts, delivery.sent_at) == ("sent", 1, NOW)
    # Posted once.
    assert await deliver_slack_alerts(alerts.state, now=NOW + dt.timedelta(hours=1)) == 0
    assert alerts.slack.methods() == ["chat.postMessage"]


JUDGEMENT_MESSAGE = "reply_rate 0.042 is below 0.06 over 7 days to 2026-10-25"


async def test_the_message_is_updated_as_the_alert_is_acknowledged_snoozed_and_resolved(
    alerts: AlertsInSlack,
) -> None:
    alert_id = await alerts.fire()
    await deliver_slack_alerts(alerts.state, now=NOW)
    [message] = await alerts.messages()
    manager = alerts.user_id("manager_a")
    later = NOW + dt.timedelta(minutes=5)
    async with transaction(alerts.state.sessions) as session:
        await alert_state.acknowledge(session, alert_id, by_user_id=manager, now=later)
    assert await deliver_slack_alerts(alerts.state, now=later) == 1
    [update_call] = alerts.slack.of("chat.update")
    assert (update_call.arguments["channel"], update_call.arguments["ts"]) == (
        message.channel,
        message.ts,
    )
    blocks = update_call.arguments["blocks"]
    assert _state_line(blocks).startswith("👀 *Acknowledged* by <@UMGRA> <!date^")
    assert list(_controls(blocks)) == ["alert_snooze", "alert_open"]
    assert update_call.arguments["text"].startswith("[WARNING] Alpha replies (acknowledged): ")

    async with transaction(alerts.state.sessions) as session:
        await alert_state.snooze(
            session,
            alert_id,
            until=later + dt.timedelta(hours=4),
            by_user_id=alerts.user_id("exec_n"),
            now=later,
        )
        await alert_state.resolve(session, alert_id, by_user_id=None, now=later)
    assert await deliver_slack_alerts(alerts.state, now=later) == 2
    resolved = alerts.slack.of("chat.update")[-1].arguments["blocks"]
    assert _block(resolved, "actions") is None  # no controls once resolved
    assert _state_line(resolved).startswith("✅ *Resolved* <!date^")
    assert _state_line(resolved).endswith(
        f"by itself (the condition cleared) · <http://dashboard.test/?alert={alert_id}"
        "|Open in the dashboard>"
    )
    assert alerts.slack.methods() == ["chat.postMessage", *["chat.update"] * 3]
    assert {d.status for d in await alerts.deliveries()} == {"sent"}


async def test_a_snooze_shows_until_when_and_by_whom(alerts: AlertsInSlack) -> None:
    alert_id = await alerts.fire()
    async with transaction(alerts.state.sessions) as session:
        await alert_state.snooze(
            session,
            alert_id,
            until=NOW + dt.timedelta(hours=1),
            by_user_id=alerts.user_id("exec_n"),
            now=NOW,
        )
    assert await deliver_slack_alerts(alerts.state, now=NOW) == 2
    blocks = alerts.slack.of("chat.update")[0].arguments["blocks"]
    until = NOW + dt.timedelta(hours=1)
    assert _state_line(blocks).endswith(
        f"\n💤 Snoozed until <!date^{int(until.timestamp())}^{{date_short_pretty}} {{time}}"
        "|2026-11-02 16:30 UTC> by exec_n"  # no Slack id: the name
    )


async def test_without_a_rule_channel_the_installation_s_default_channel(
    alerts: AlertsInSlack,
) -> None:
    async with transaction(alerts.state.sessions) as session:
        await session.execute(update(SlackInstallation).values(default_channel="C0DEFAULT"))
    await alerts.fire(slack_channel=None)
    await deliver_slack_alerts(alerts.state, now=NOW)
    assert [c.arguments["channel"] for c in alerts.slack.of("chat.postMessage")] == ["C0DEFAULT"]


async def test_without_any_channel_the_mapped_people_who_see_it_get_a_direct_message(
    alerts: AlertsInSlack,
) -> None:
    world: Any = alerts.world
    alert_id = await alerts.fire(
        slack_channel=None,
        name="Rep A1 replies",
        scope="agent",
        agent_id=world.agents["rep_a1"].id,
    )
    # rep_a1 (its rep) and manager_a (its team's manager) are mapped and see it; rep_a2 and
    # rep_b1 do not see it; the executive is told of organisation-wide alerts only.
    assert await deliver_slack_alerts(alerts.state, now=NOW) == 2
    assert sorted(c.arguments["channel"] for c in alerts.slack.of("chat.postMessage")) == [
        "UMGRA",
        "UREPA1",
    ]
    messages = await alerts.messages()
    assert sorted((m.target, m.user_id, m.channel) for m in messages) == [
        ("UMGRA", alerts.user_id("manager_a"), "DMGRA"),
        ("UREPA1", alerts.user_id("rep_a1"), "DREPA1"),
    ]
    [post, *_] = alerts.slack.of("chat.postMessage")
    fields = [f["text"] for f in post.arguments["blocks"][2]["fields"]]
    assert "*Scope*\nAgent agent_rep_a1 · team alpha" in fields
    # Later changes update each direct message where it is.
    async with transaction(alerts.state.sessions) as session:
        await alert_state.resolve(
            session, alert_id, by_user_id=alerts.user_id("manager_a"), now=NOW
        )
    assert await deliver_slack_alerts(alerts.state, now=NOW) == 2
    assert sorted(c.arguments["channel"] for c in alerts.slack.of("chat.update")) == [
        "DMGRA",
        "DREPA1",
    ]
    assert "by <@UMGRA>" in _state_line(alerts.slack.of("chat.update")[0].arguments["blocks"])


async def test_nothing_is_queued_without_the_slack_channel_or_anyone_to_tell(
    alerts: AlertsInSlack,
) -> None:
    await alerts.fire(name="e-mail only", channels=["email"])
    # An organisation-wide alert with no channel: its executive has no Slack id.
    await alerts.fire(name="org", scope="organization", team_id=None, slack_channel=None)
    assert await alerts.deliveries() == []
    assert await alerts.messages() == []


async def test_a_reminder_replies_in_the_thread_naming_who_should_act_and_updates(
    alerts: AlertsInSlack,
) -> None:
    alert_id = await alerts.fire(severity="critical", remind_after_minutes=30)
    await deliver_slack_alerts(alerts.state, now=NOW)
    [message] = await alerts.messages()
    at = NOW + dt.timedelta(minutes=31)
    async with transaction(alerts.state.sessions) as session:
        assert await remind_unacknowledged(session, now=at) == 1
    assert await deliver_slack_alerts(alerts.state, now=at) == 1
    assert alerts.slack.methods() == ["chat.postMessage", "chat.update", "chat.postMessage"]
    reply = alerts.slack.of("chat.postMessage")[1].arguments
    assert reply == {
        "channel": message.channel,
        "thread_ts": message.ts,
        "text": "⏰ Still firing, not acknowledged after 31 minutes. <@UMGRA>",
    }
    redrawn = alerts.slack.of("chat.update")[0].arguments["blocks"]
    assert "not acknowledged, reminded 1×" in _state_line(redrawn)
    assert (await alerts.alert(alert_id)).reminders == 1


async def test_with_slack_answering_503_rows_wait_back_off_and_go_when_it_is_back(
    alerts: AlertsInSlack,
) -> None:
    alerts.slack.statuses["chat.postMessage"] = (503, {})
    await alerts.fire()
    assert await deliver_slack_alerts(alerts.state, now=NOW) == 0
    [row] = await alerts.deliveries()
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, NOW + backoff(1))
    assert row.last_error == "Slack chat.postMessage failed: HTTP 503"
    assert [(e["attempt"], e["error"]) for e in row.errors] == [(1, row.last_error)]
    # Not due before its backoff.
    assert await deliver_slack_alerts(alerts.state, now=NOW + dt.timedelta(seconds=30)) == 0
    assert len(alerts.slack.calls) == 1 + RETRIES  # one run: the client's own quick retries
    alerts.slack.statuses.clear()
    later = NOW + backoff(1)
    assert await deliver_slack_alerts(alerts.state, now=later) == 1
    [row] = await alerts.deliveries()
    assert (row.status, row.attempts, row.sent_at, len(row.errors)) == ("sent", 2, later, 1)
    assert alerts.slack.methods() == ["chat.postMessage"] * (2 + RETRIES)


async def test_with_slack_unreachable_rows_wait_until_it_answers(alerts: AlertsInSlack) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with transaction(alerts.state.sessions) as session:
        await session.execute(
            update(SlackInstallation).values(api_base_url=f"http://127.0.0.1:{port}/api/")
        )
    await alerts.fire()
    assert await deliver_slack_alerts(alerts.state, now=NOW) == 0
    [row] = await alerts.deliveries()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None and "cannot reach" in row.last_error
    async with transaction(alerts.state.sessions) as session:
        await session.execute(update(SlackInstallation).values(api_base_url=alerts.slack.base_url))
    assert await deliver_slack_alerts(alerts.state, now=NOW + backoff(1)) == 1
    assert alerts.slack.methods() == ["chat.postMessage"]


async def test_a_429_is_retried_after_its_retry_after(alerts: AlertsInSlack) -> None:
    alerts.slack.statuses["chat.postMessage"] = (429, {"Retry-After": "120"})
    await alerts.fire()
    assert await deliver_slack_alerts(alerts.state, now=NOW) == 0
    [row] = await alerts.deliveries()
    assert (row.status, row.next_attempt_at) == ("pending", NOW + dt.timedelta(seconds=120))
    assert row.last_error == "Slack chat.postMessage failed: ratelimited"
    alerts.slack.statuses.clear()
    assert await deliver_slack_alerts(alerts.state, now=NOW + dt.timedelta(seconds=119)) == 0
    assert await deliver_slack_alerts(alerts.state, now=NOW + dt.timedelta(seconds=120)) == 1


async def test_slack_s_transient_errors_are_retried(alerts: AlertsInSlack) -> None:
    alerts.slack.failures["chat.postMessage"] = "internal_error"
    await alerts.fire()
    assert await deliver_slack_alerts(alerts.state, now=NOW) == 0
    [row] = await alerts.deliveries()
    assert (row.status, row.next_attempt_at) == ("pending", NOW + backoff(1))
    assert row.last_error == "Slack chat.postMessage failed: internal_error"


async def test_a_permanent_refusal_fails_the_row_at_once_and_is_logged(
    alerts: AlertsInSlack, caplog: pytest.LogCaptureFixture
) -> None:
    alerts.slack.failures["chat.postMessage"] = "channel_not_found"
    await alerts.fire()
    with caplog.at_level(logging.WARNING, logger="backend.slack.alert_delivery"):
        assert await deliver_slack_alerts(alerts.state, now=NOW) == 0
    [row] = await alerts.deliveries()
    assert (row.status, row.attempts, row.sent_at) == ("failed", 1, None)
    assert row.last_error == "Slack chat.postMessage failed: channel_not_found"
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert "failed for good" in record.getMessage()
    assert "channel_not_found" in record.getMessage()
    alerts.slack.failures.clear()
    assert await deliver_slack_alerts(alerts.state, now=NOW + dt.timedelta(days=1)) == 0
    assert alerts.slack.methods() == ["chat.postMessage"]


async def test_after_the_last_attempt_a_row_has_failed(alerts: AlertsInSlack) -> None:
    alerts.slack.statuses["chat.postMessage"] = (502, {})
    await alerts.fire()
    now = NOW
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await deliver_slack_alerts(alerts.state, now=now)
        now += backoff(attempt)
    [row] = await alerts.deliveries()
    assert (row.status, row.attempts, len(row.errors)) == ("failed", MAX_ATTEMPTS, MAX_ATTEMPTS)


async def test_a_change_queued_before_the_post_waits_for_it(alerts: AlertsInSlack) -> None:
    alerts.slack.statuses["chat.postMessage"] = (503, {})
    alert_id = await alerts.fire()
    assert await deliver_slack_alerts(alerts.state, now=NOW) == 0  # the post waits
    soon = NOW + dt.timedelta(seconds=10)
    async with transaction(alerts.state.sessions) as session:
        await alert_state.acknowledge(
            session, alert_id, by_user_id=alerts.user_id("manager_a"), now=soon
        )
    # The acknowledgement is due, its post is not: it is put back until the post is due, its
    # claim not counted as an attempt, and nothing is sent.
    assert await deliver_slack_alerts(alerts.state, now=soon) == 0
    post, acknowledged = await alerts.deliveries()
    assert (acknowledged.status, acknowledged.attempts) == ("pending", 0)
    assert acknowledged.next_attempt_at == post.next_attempt_at == NOW + backoff(1)
    assert alerts.slack.methods() == ["chat.postMessage"] * (1 + RETRIES)
    alerts.slack.statuses.clear()
    assert await deliver_slack_alerts(alerts.state, now=NOW + backoff(1)) == 2
    assert alerts.slack.methods() == [*["chat.postMessage"] * (2 + RETRIES), "chat.update"]
    [message] = await alerts.messages()
    assert alerts.slack.of("chat.update")[0].arguments["ts"] == message.ts


async def test_two_workers_at_once_show_each_change_once(alerts: AlertsInSlack) -> None:
    for name in ("one", "two", "three", "four"):
        await alerts.fire(name=name)
    sent = await asyncio.gather(*(deliver_slack_alerts(alerts.state, now=NOW) for _ in range(2)))
    assert sum(sent) == 4
    assert len(alerts.slack.of("chat.postMessage")) == 4
    assert {d.status for d in await alerts.deliveries()} == {"sent"}
    assert len({m.ts for m in await alerts.messages()}) == 4
