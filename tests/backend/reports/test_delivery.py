"""Report deliveries against a real SMTP server (aiosmtpd): the MIME structure and headers of
the received report, the one-click unsubscribe from its List-Unsubscribe header POSTed to the
app, retries with backoff while the server refuses, two workers sending each e-mail once."""

from __future__ import annotations

import asyncio
import datetime as dt
from email.message import Message
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from backend.app import create_app
from backend.notifications.smtp import send_email
from backend.outbox import MAX_ATTEMPTS, backoff
from backend.reports.delivery import DeliveryRefused, Senders, SlackReport, deliver_reports
from backend.reports.models import ReportDelivery, ReportKind, ReportRun, ReportSubscription
from backend.reports.render import render_report
from backend.reports.runs import run_due_reports
from tests.backend.conftest import Loop
from tests.backend.notifications.conftest import SmtpServer
from tests.backend.reports.conftest import PNG, quick_render, subscribe
from tests.factories import NOW


def senders(loop: Loop, posted: list[SlackReport] | None = None) -> Senders:
    async def by_email(content: bytes, sender: str, recipients: list[str]) -> None:
        await send_email(loop.state.settings, content, sender=sender, recipients=recipients)

    async def in_slack(report: SlackReport) -> str:
        if posted is None:
            raise DeliveryRefused("channel_not_found", permanent=True)
        posted.append(report)
        return f"1700000000.{len(posted):06d}"

    return Senders(email=by_email, slack=in_slack)


def smtp_on(loop: Loop, server: SmtpServer) -> None:
    loop.state.settings = loop.state.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": server.port,
            "smtp_starttls": False,
            "smtp_sender": "Sales Agent <reports@sales.example>",
            "smtp_timeout_seconds": 5.0,
            "public_base_url": "https://sales.example",
        }
    )


async def rows(loop: Loop, model: Any) -> list[Any]:
    async with loop.state.sessions() as session:
        return list(await session.scalars(select(model).order_by(model.id)))


def parts(message: Message) -> list[Any]:
    """The MIME tree as nested (content type, [children]) / content type."""
    if message.is_multipart():
        return [message.get_content_type(), [parts(p) for p in message.get_payload()]]  # type: ignore[union-attr]
    return message.get_content_type()  # type: ignore[return-value]


async def test_the_received_report_is_multipart_with_inline_charts_and_unsubscribes(
    loop: Loop, smtp_server: SmtpServer
) -> None:
    smtp_server.start()
    smtp_on(loop, smtp_server)
    world: Any = loop.world
    subscription = await subscribe(
        loop,
        "manager_a",
        ReportKind.MANAGER_DAILY,
        created_at=NOW - dt.timedelta(days=2),
        team_id=world.teams["alpha"].id,
    )
    assert await run_due_reports(loop.state, now=NOW, render=render_report) == 1
    assert await deliver_reports(loop.state, now=NOW, senders=senders(loop)) == 1
    (received,) = smtp_server.sink.messages
    message = received.message
    assert received.recipients == ["manager_a@north.example"]
    assert received.sender == "reports@sales.example"
    # multipart/alternative [text/plain, multipart/related [text/html, image/png...]]
    tree = parts(message)
    assert tree[0] == "multipart/alternative"
    assert tree[1][0] == "text/plain"
    related = tree[1][1]
    assert related[0] == "multipart/related"
    assert related[1][0] == "text/html"
    assert related[1][1:] and set(related[1][1:]) == {"image/png"}
    html_part, *images = message.get_payload()[1].get_payload()  # type: ignore[index, union-attr]
    html = html_part.get_payload(decode=True).decode()
    assert (
        "http"
        not in "".join(src for src in html.split('src="')[1:] if not src.startswith("cid:")).split(
            '"'
        )[0]
    )
    for image in images:
        cid = image["Content-ID"].strip("<>")
        assert f"cid:{cid}" in html
        assert image.get_content_disposition() == "inline"
        assert image.get_payload(decode=True).startswith(b"\x89PNG")
    # Headers.
    assert message["Subject"].startswith(message["Subject"][:5]) and message["Subject"]
    assert message["From"] == "Sales Agent <reports@sales.example>"
    assert message["To"] == "manager_a@north.example"
    assert message["Date"] and message["Message-ID"].startswith("<report-run-")
    assert message["List-Id"] == "Daily team report <manager-daily.reports.sales.example>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://sales.example/reports/unsubscribe?token=")
    (run,) = await rows(loop, ReportRun)
    (delivery,) = await rows(loop, ReportDelivery)
    assert (run.status, delivery.status, delivery.attempts) == ("sent", "sent", 1)
    assert delivery.message_id == message["Message-ID"]
    # The link, POSTed as a mail client does (RFC 8058), unsubscribes; GET only asks.
    path = link.removeprefix("https://sales.example")
    with TestClient(create_app(loop.state.settings, clock=lambda: NOW)) as client:
        page = client.get(path)
        assert page.status_code == 200 and "<form method='post'" in page.text
        (still,) = await rows(loop, ReportSubscription)
        assert still.enabled and still.unsubscribed_at is None
        answer = client.post(path, content="List-Unsubscribe=One-Click")
        assert answer.status_code == 200 and "Unsubscribed" in answer.text
        assert client.post(path, content="List-Unsubscribe=One-Click").status_code == 200
        forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
        assert client.post(forged, content="List-Unsubscribe=One-Click").status_code == 400
    (gone,) = await rows(loop, ReportSubscription)
    assert (gone.id, gone.enabled, gone.unsubscribed_at) == (subscription.id, False, NOW)
    # Unsubscribed: the next day's report is not run.
    assert (
        await run_due_reports(loop.state, now=NOW + dt.timedelta(days=1), render=quick_render) == 0
    )


async def test_a_refusing_server_is_retried_with_backoff_then_the_same_message_goes(
    loop: Loop, smtp_server: SmtpServer
) -> None:
    smtp_on(loop, smtp_server)  # nothing listens yet: every attempt is refused
    await subscribe(loop, "manager_a", ReportKind.MANAGER_DAILY, created_at=NOW - dt.timedelta(2))
    await run_due_reports(loop.state, now=NOW, render=quick_render)
    (stored,) = await rows(loop, ReportDelivery)
    now = NOW
    for attempt in (1, 2, 3):
        assert await deliver_reports(loop.state, now=now, senders=senders(loop)) == 0
        (delivery,) = await rows(loop, ReportDelivery)
        assert (delivery.status, delivery.attempts) == ("pending", attempt)
        assert delivery.next_attempt_at == now + backoff(attempt)
        assert [e["attempt"] for e in delivery.errors] == list(range(1, attempt + 1))
        # Not due before its backoff.
        assert (
            await deliver_reports(loop.state, now=now + backoff(attempt) / 2, senders=senders(loop))
            == 0
        )
        now += backoff(attempt)
    assert [backoff(a) for a in (1, 2, 3)] == [dt.timedelta(minutes=m) for m in (1, 2, 4)]
    smtp_server.start()
    assert await deliver_reports(loop.state, now=now, senders=senders(loop)) == 1
    (delivery,) = await rows(loop, ReportDelivery)
    (run,) = await rows(loop, ReportRun)
    assert (delivery.status, delivery.attempts, delivery.sent_at, run.status) == (
        "sent",
        4,
        now,
        "sent",
    )
    (received,) = smtp_server.sink.messages
    assert received.message["Message-ID"] == stored.message_id  # the stored message itself


async def test_after_the_last_attempt_the_delivery_and_its_run_have_failed(
    loop: Loop, smtp_server: SmtpServer
) -> None:
    smtp_on(loop, smtp_server)
    await subscribe(loop, "manager_a", ReportKind.MANAGER_DAILY, created_at=NOW - dt.timedelta(2))
    await run_due_reports(loop.state, now=NOW, render=quick_render)
    now = NOW
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await deliver_reports(loop.state, now=now, senders=senders(loop))
        now += backoff(attempt)
    (delivery,) = await rows(loop, ReportDelivery)
    (run,) = await rows(loop, ReportRun)
    assert (delivery.status, len(delivery.errors)) == ("failed", MAX_ATTEMPTS)
    assert (run.status, run.error) == ("failed", "delivery failed: email")


async def test_slack_posts_the_summary_and_its_chart_and_a_refusal_fails_at_once(
    loop: Loop,
) -> None:
    await subscribe(
        loop,
        "manager_a",
        ReportKind.MANAGER_DAILY,
        created_at=NOW - dt.timedelta(2),
        channels=["slack"],
        slack_channel="C0REPORTS",
    )
    await subscribe(
        loop,
        "exec_n",
        ReportKind.EXECUTIVE_WEEKLY,
        created_at=NOW - dt.timedelta(days=30),
        channels=["slack"],
        slack_channel="C0EXECS",
    )
    assert await run_due_reports(loop.state, now=NOW, render=quick_render) == 2
    posted: list[SlackReport] = []
    # SMTP is off: e-mails would wait; Slack goes.
    only = Senders(email=None, slack=senders(loop, posted).slack)
    assert await deliver_reports(loop.state, now=NOW, senders=only) == 2
    assert sorted(p.target for p in posted) == ["C0EXECS", "C0REPORTS"]
    assert all(p.image_png == PNG and p.blocks for p in posted)
    assert {d.message_id for d in await rows(loop, ReportDelivery)} == {
        "1700000000.000001",
        "1700000000.000002",
    }
    # A permanent refusal: failed after one attempt.
    await subscribe(
        loop,
        "rep_a1",
        ReportKind.REP_WEEKLY,
        created_at=NOW - dt.timedelta(days=30),
        channels=["slack"],
        slack_channel="C0GONE",
        agent_id=loop.rep.agent_ids and min(loop.rep.agent_ids),
    )
    await run_due_reports(loop.state, now=NOW, render=quick_render)
    await deliver_reports(loop.state, now=NOW, senders=senders(loop, None))
    refused = [d for d in await rows(loop, ReportDelivery) if d.target == "C0GONE"]
    assert [(d.status, d.attempts, d.last_error) for d in refused] == [
        ("failed", 1, "channel_not_found")
    ]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_workers_at_once_send_each_report_once(
    loop: Loop, smtp_server: SmtpServer
) -> None:
    smtp_server.start()
    smtp_on(loop, smtp_server)
    world: Any = loop.world
    for key in ("rep_a1", "rep_a2", "rep_b1"):
        await subscribe(
            loop,
            key,
            ReportKind.REP_WEEKLY,
            created_at=NOW - dt.timedelta(days=30),
            agent_id=world.agents[key].id,
        )
    await subscribe(loop, "exec_n", ReportKind.EXECUTIVE_WEEKLY, created_at=NOW - dt.timedelta(30))
    assert await run_due_reports(loop.state, now=NOW, render=quick_render) == 4
    sent = await asyncio.gather(
        *(deliver_reports(loop.state, now=NOW, senders=senders(loop)) for _ in range(2))
    )
    assert sum(sent) == 4
    ids = [m.message["Message-ID"] for m in smtp_server.sink.messages]
    assert len(ids) == len(set(ids)) == 4
