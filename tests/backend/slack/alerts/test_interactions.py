"""Acknowledge and Snooze on an alert's Slack message, signed as Slack signs them, against the
real app and database: the person the Slack user is acts through the alerts service (their
scope applies); the message is then updated through the outbox by the worker."""

from __future__ import annotations

import datetime as dt

from starlette.testclient import TestClient

from backend.slack.alert_delivery import deliver_slack_alerts
from backend.slack.models import SlackAlertMessage
from backend.unit_of_work import transaction
from tests.backend.slack.alerts.conftest import AlertsInSlack, alert_click, interact
from tests.factories import NOW


async def _posted(alerts: AlertsInSlack) -> tuple[int, SlackAlertMessage]:
    alert_id = await alerts.fire()
    assert await deliver_slack_alerts(alerts.state, now=NOW) == 1
    [message] = await alerts.messages()
    alerts.slack.clear()
    return alert_id, message


def _ephemeral_texts(alerts: AlertsInSlack) -> list[tuple[str, str]]:
    return [
        (c.arguments["user"], c.arguments["text"]) for c in alerts.slack.of("chat.postEphemeral")
    ]


async def test_acknowledge_by_a_mapped_manager_acknowledges_as_them_and_updates_the_message(
    alerts: AlertsInSlack, app: TestClient
) -> None:
    alert_id, message = await _posted(alerts)
    response = interact(
        app, alert_click("UMGRA", message, "alert_acknowledge", value=str(alert_id))
    )
    assert (response.status_code, response.content) == (200, b"")
    alert = await alerts.alert(alert_id)
    assert (alert.state, alert.acknowledged_by_id, alert.acknowledged_at) == (
        "acknowledged",
        alerts.user_id("manager_a"),
        NOW,
    )
    # No Slack call in the request: the change is queued, the worker updates the message.
    assert alerts.slack.calls == []
    assert [d.change for d in await alerts.deliveries()] == ["created", "acknowledged"]
    assert await deliver_slack_alerts(alerts.state, now=NOW) == 1
    [update_call] = alerts.slack.of("chat.update")
    assert (update_call.arguments["channel"], update_call.arguments["ts"]) == (
        message.channel,
        message.ts,
    )
    context = next(b for b in update_call.arguments["blocks"] if b["type"] == "context")
    assert context["elements"][0]["text"].startswith("👀 *Acknowledged* by <@UMGRA> ")
    assert alerts.slack.methods() == ["chat.update"]


async def test_a_retried_click_counts_once(alerts: AlertsInSlack, app: TestClient) -> None:
    alert_id, message = await _posted(alerts)
    click = alert_click("UMGRA", message, "alert_snooze", selected=f"{alert_id}:1h")
    assert interact(app, click).status_code == 200
    assert interact(app, click).status_code == 200  # Slack's retry of the same delivery
    assert [d.change for d in await alerts.deliveries()] == ["created", "snoozed"]
    again = alert_click("UMGRA", message, "alert_acknowledge", value=str(alert_id), trigger="t-ack")
    interact(app, again)
    interact(app, again)
    assert [d.change for d in await alerts.deliveries()] == ["created", "snoozed", "acknowledged"]


async def test_snooze_from_the_select_quiets_the_alert_for_the_chosen_time(
    alerts: AlertsInSlack, app: TestClient
) -> None:
    alert_id, message = await _posted(alerts)
    response = interact(
        app, alert_click("UMGRA", message, "alert_snooze", selected=f"{alert_id}:4h")
    )
    assert response.status_code == 200
    alert = await alerts.alert(alert_id)
    assert (alert.state, alert.snoozed_until, alert.snoozed_by_id) == (
        "firing",
        NOW + dt.timedelta(hours=4),
        alerts.user_id("manager_a"),
    )
    assert await deliver_slack_alerts(alerts.state, now=NOW) == 1
    [update_call] = alerts.slack.of("chat.update")
    context = next(b for b in update_call.arguments["blocks"] if b["type"] == "context")
    assert "\n💤 Snoozed until <!date^" in context["elements"][0]["text"]
    assert context["elements"][0]["text"].endswith(" by <@UMGRA>")


async def test_a_person_who_does_not_see_the_alert_changes_nothing(
    alerts: AlertsInSlack, app: TestClient
) -> None:
    alert_id, message = await _posted(alerts)
    # rep_b1 (team beta) is mapped but does not see team alpha's alert.
    response = interact(
        app, alert_click("UREPB1", message, "alert_acknowledge", value=str(alert_id))
    )
    assert response.status_code == 200
    assert _ephemeral_texts(alerts) == [
        ("UREPB1", "You cannot act on this alert: it is not among the alerts you can see.")
    ]
    alert = await alerts.alert(alert_id)
    assert (alert.state, alert.acknowledged_by_id) == ("firing", None)
    assert [d.change for d in await alerts.deliveries()] == ["created"]


async def test_an_unmapped_or_foreign_slack_user_is_asked_to_link_their_account(
    alerts: AlertsInSlack, app: TestClient
) -> None:
    from backend.orgs.models import User

    alert_id, message = await _posted(alerts)
    async with transaction(alerts.state.sessions) as session:
        south_rep = await session.get_one(User, alerts.user_id("rep_s1"))
        south_rep.slack_user_id = "USOUTH"  # a person of another organisation
    for user, trigger in (("UNOBODY", "t1"), ("USOUTH", "t2")):
        interact(
            app,
            alert_click(user, message, "alert_snooze", selected=f"{alert_id}:1d", trigger=trigger),
        )
    texts = _ephemeral_texts(alerts)
    assert [user for user, _ in texts] == ["UNOBODY", "USOUTH"]
    assert all("not linked to a user here" in text for _, text in texts)
    alert = await alerts.alert(alert_id)
    assert (alert.snoozed_until, alert.snoozed_by_id) == (None, None)
    assert [d.change for d in await alerts.deliveries()] == ["created"]


async def test_acting_on_a_resolved_alert_says_so_and_changes_nothing(
    alerts: AlertsInSlack, app: TestClient
) -> None:
    from backend.alerts import state as alert_state

    alert_id, message = await _posted(alerts)
    async with transaction(alerts.state.sessions) as session:
        await alert_state.resolve(session, alert_id, by_user_id=None, now=NOW)
    interact(app, alert_click("UMGRA", message, "alert_acknowledge", value=str(alert_id)))
    interact(
        app,
        alert_click("UMGRA", message, "alert_snooze", selected=f"{alert_id}:1h", trigger="t2"),
    )
    assert _ephemeral_texts(alerts) == [
        ("UMGRA", "This alert is resolved already; nothing was changed."),
        ("UMGRA", "The alert was not changed: the alert is resolved."),
    ]
    assert [d.change for d in await alerts.deliveries()] == ["created", "resolved"]


async def test_a_malformed_alert_control_is_refused_naming_the_field(
    alerts: AlertsInSlack, app: TestClient
) -> None:
    _, message = await _posted(alerts)
    response = interact(app, alert_click("UMGRA", message, "alert_snooze", selected="7:forever"))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "payload.actions[0].selected_option.value"
    # The Open link button needs nothing from us.
    response = interact(app, alert_click("UMGRA", message, "alert_open"))
    assert (response.status_code, response.content) == (200, b"")
