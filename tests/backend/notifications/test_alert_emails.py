"""An alert's change enqueues one e-mail per person who should hear of it, once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from backend.alerts import state as alert_state
from backend.alerts.judgement import Judgement
from backend.alerts.reminders import remind_unacknowledged
from backend.alerts.service import sees_alert
from backend.auth.service import viewer_of_user
from backend.notifications.models import Notification
from backend.unit_of_work import transaction
from tests.backend.alerts.builders import add_rule
from tests.backend.conftest import Loop
from tests.factories import NOW

JUDGEMENT = Judgement(
    holds=True,
    cleared=False,
    observed=0.042,
    expected=0.06,
    message="reply_rate 0.042 is below 0.06 over 7 days to 2026-10-25",
    evidence={"window": {"start": "2026-10-19", "end": "2026-10-25"}, "value": 0.042},
)


async def fire(loop: Loop, *, held: list[Any] | None = None, **rule: Any) -> int:
    """Fire an alert on a new rule of org north (after commit, its events are dispatched, or
    kept in ``held``); returns the alert's id."""
    world: Any = loop.world
    north = world.orgs["north"].id
    async with transaction(loop.state.sessions, hold=held) as session:
        created = await add_rule(session, north, threshold=0.06, direction="below", **rule)
        subject = alert_state.Subject(
            key=f"agent:{created.agent_id}"
            if created.agent_id
            else f"team:{created.team_id}"
            if created.team_id
            else "organization",
            team_id=created.team_id,
            agent_id=created.agent_id,
            action_type=None,
        )
        await alert_state.apply_judgement(session, created, subject, JUDGEMENT, now=NOW)
        alert = await alert_state.open_alert(session, created, subject.key)
        assert alert is not None
        return alert.id


async def outbox(loop: Loop) -> list[Notification]:
    async with loop.state.sessions() as session:
        return list(await session.scalars(select(Notification).order_by(Notification.address)))


async def test_an_agent_alert_reaches_its_rep_and_its_team_s_managers(loop: Loop) -> None:
    world: Any = loop.world
    alert_id = await fire(
        loop,
        name="Rep A1 replies",
        scope="agent",
        team_id=world.teams["alpha"].id,
        agent_id=world.agents["rep_a1"].id,
        channels=["dashboard", "email"],
        severity="critical",
    )
    rows = await outbox(loop)
    assert [r.address for r in rows] == ["manager_a@north.example", "rep_a1@north.example"]
    assert {r.user_id for r in rows} == {world.users["manager_a"].id, world.users["rep_a1"].id}
    for row in rows:
        assert (row.status, row.attempts, row.alert_id, row.change) == (
            "pending",
            0,
            alert_id,
            "created",
        )
        assert row.next_attempt_at == NOW
        assert row.subject == "[CRITICAL] Rep A1 replies fired: reply_rate"
        assert "Value: 0.042" in row.body_text
        assert "Threshold: 0.06" in row.body_text
        assert "Window: 2026-10-19 to 2026-10-25" in row.body_text
        assert "State: firing" in row.body_text
        assert f"http://127.0.0.1:8000/?alert={alert_id}" in row.body_text
        assert f"href='http://127.0.0.1:8000/?alert={alert_id}'" in row.body_html
        assert "<th align='left'>Rule</th><td>Rep A1 replies</td>" in row.body_html
    # Every recipient may open the alert.
    async with loop.state.sessions() as session:
        for row in rows:
            assert row.user_id is not None
            viewer = await viewer_of_user(session, row.user_id)
            assert viewer is not None
            assert sees_alert(
                viewer, team_id=world.teams["alpha"].id, agent_id=world.agents["rep_a1"].id
            )


async def test_a_team_alert_reaches_its_managers_and_an_organisation_s_its_executives(
    loop: Loop,
) -> None:
    world: Any = loop.world
    await fire(
        loop, name="alpha", scope="team", team_id=world.teams["alpha"].id, channels=["email"]
    )
    assert [r.address for r in await outbox(loop)] == ["manager_a@north.example"]
    await fire(loop, name="org", scope="organization", channels=["email"])
    assert [r.address for r in await outbox(loop)] == [
        "exec_n@north.example",
        "manager_a@north.example",
    ]


async def test_a_rule_without_the_email_channel_enqueues_nothing(loop: Loop) -> None:
    world: Any = loop.world
    await fire(
        loop, name="alpha", scope="team", team_id=world.teams["alpha"].id, channels=["slack"]
    )
    assert await outbox(loop) == []


async def test_a_retried_event_enqueues_nothing_more_and_an_acknowledgement_is_new(
    loop: Loop,
) -> None:
    world: Any = loop.world
    held: list[Any] = []
    alert_id = await fire(
        loop,
        held=held,
        name="alpha",
        scope="team",
        team_id=world.teams["alpha"].id,
        channels=["email"],
    )
    await loop.state.bus.dispatch(held)
    await loop.state.bus.dispatch(held)  # the same events again
    assert [(r.address, r.change) for r in await outbox(loop)] == [
        ("manager_a@north.example", "created")
    ]
    async with transaction(loop.state.sessions) as session:
        await alert_state.acknowledge(
            session, alert_id, by_user_id=world.users["manager_a"].id, now=NOW
        )
    rows = await outbox(loop)
    assert sorted(r.change for r in rows) == ["acknowledged", "created"]
    acknowledged = next(r for r in rows if r.change == "acknowledged")
    assert f"Acknowledged by: {world.users['manager_a'].name}" in acknowledged.body_text
    assert "State: acknowledged" in acknowledged.body_text


async def test_a_reminder_of_a_critical_alert_is_e_mailed_again(loop: Loop) -> None:
    world: Any = loop.world
    await fire(
        loop,
        name="alpha",
        scope="team",
        team_id=world.teams["alpha"].id,
        severity="critical",
        channels=["email"],
    )
    async with transaction(loop.state.sessions) as session:
        assert await remind_unacknowledged(session, now=NOW + dt.timedelta(hours=1)) == 1
    rows = await outbox(loop)
    assert [(r.address, r.change) for r in rows] == [
        ("manager_a@north.example", "created"),
        ("manager_a@north.example", "reminded"),
    ]
    reminder = rows[1]
    assert reminder.subject == (
        "[CRITICAL] alpha is still firing and nobody acknowledged it: reply_rate"
    )
    assert "State: firing" in reminder.body_text
