"""The worker delivers the outbox to a real SMTP server (aiosmtpd on 127.0.0.1); with the
server down e-mails wait with their errors and back off, then give up after the last attempt."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from backend.notifications.delivery import deliver_notifications
from backend.notifications.models import Notification
from backend.notifications.outbox import MAX_ATTEMPTS, backoff
from tests.backend.conftest import Loop
from tests.backend.notifications.conftest import SmtpServer
from tests.backend.notifications.test_alert_emails import fire
from tests.factories import NOW


def smtp_on(loop: Loop, server: SmtpServer) -> None:
    loop.state.settings = loop.state.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": server.port,
            "smtp_starttls": False,
            "smtp_sender": "Alerts <alerts@sales.example>",
            "smtp_timeout_seconds": 5.0,
        }
    )


async def agent_alert(loop: Loop) -> int:
    world: Any = loop.world
    return await fire(
        loop,
        name="Rep A1 replies",
        scope="agent",
        team_id=world.teams["alpha"].id,
        agent_id=world.agents["rep_a1"].id,
        channels=["email"],
    )


async def rows(loop: Loop) -> list[Notification]:
    async with loop.state.sessions() as session:
        return list(await session.scalars(select(Notification).order_by(Notification.address)))


async def test_the_job_delivers_multipart_text_and_html_to_each_recipient(
    loop: Loop, smtp_server: SmtpServer
) -> None:
    await agent_alert(loop)
    smtp_server.start()
    smtp_on(loop, smtp_server)
    assert await deliver_notifications(loop.state, now=NOW) == 2
    received = sorted(smtp_server.sink.messages, key=lambda m: m.recipients)
    assert [m.recipients for m in received] == [
        ["manager_a@north.example"],
        ["rep_a1@north.example"],
    ]
    for message in received:
        assert message.sender == "alerts@sales.example"
        assert message.message["Subject"] == "[WARNING] Rep A1 replies fired: reply_rate"
        assert message.message.get_content_type() == "multipart/alternative"
        parts = [p.get_content_type() for p in message.message.get_payload()]  # type: ignore[union-attr]
        assert parts == ["text/plain", "text/html"]
    assert [(r.status, r.sent_at, r.attempts) for r in await rows(loop)] == [("sent", NOW, 1)] * 2
    assert await deliver_notifications(loop.state, now=NOW + dt.timedelta(hours=1)) == 0
    assert len(smtp_server.sink.messages) == 2


async def test_with_the_server_down_e_mails_wait_then_go_when_it_is_up(
    loop: Loop, smtp_server: SmtpServer
) -> None:
    await agent_alert(loop)
    smtp_on(loop, smtp_server)  # nothing listens on its port yet
    assert await deliver_notifications(loop.state, now=NOW) == 0
    for row in await rows(loop):
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, NOW + backoff(1))
        assert row.last_error
        assert [e["attempt"] for e in row.errors] == [1]
    # Not due before its backoff.
    assert await deliver_notifications(loop.state, now=NOW + dt.timedelta(seconds=30)) == 0
    assert all(r.attempts == 1 for r in await rows(loop))
    smtp_server.start()
    later = NOW + backoff(1)
    assert await deliver_notifications(loop.state, now=later) == 2
    assert len(smtp_server.sink.messages) == 2
    for row in await rows(loop):
        assert (row.status, row.attempts, row.sent_at) == ("sent", 2, later)
        assert len(row.errors) == 1  # the failed attempt is kept


async def test_after_the_last_attempt_an_e_mail_has_failed(
    loop: Loop, smtp_server: SmtpServer
) -> None:
    await agent_alert(loop)
    smtp_on(loop, smtp_server)
    now = NOW
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await deliver_notifications(loop.state, now=now)
        assert all(r.attempts == attempt for r in await rows(loop))
        now += backoff(attempt)
    assert [(r.status, len(r.errors)) for r in await rows(loop)] == [("failed", MAX_ATTEMPTS)] * 2
    smtp_server.start()
    assert await deliver_notifications(loop.state, now=now + dt.timedelta(days=1)) == 0
    assert smtp_server.sink.messages == []


async def test_delivery_is_off_without_an_smtp_host(loop: Loop, smtp_server: SmtpServer) -> None:
    await agent_alert(loop)
    smtp_server.start()
    assert loop.state.settings.smtp_host is None
    assert await deliver_notifications(loop.state, now=NOW) == 0
    assert [(r.status, r.attempts) for r in await rows(loop)] == [("pending", 0)] * 2
    assert smtp_server.sink.messages == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_workers_at_once_send_each_e_mail_once(
    loop: Loop, smtp_server: SmtpServer
) -> None:
    for _ in range(4):
        await agent_alert(loop)  # 4 rules, 8 e-mails
    smtp_server.start()
    smtp_on(loop, smtp_server)
    sent = await asyncio.gather(*(deliver_notifications(loop.state, now=NOW) for _ in range(2)))
    assert sum(sent) == 8
    ids = [m.message["Message-ID"] for m in smtp_server.sink.messages]
    assert len(ids) == 8
    assert len(set(ids)) == 8
    assert {r.status for r in await rows(loop)} == {"sent"}
