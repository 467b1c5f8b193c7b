"""A report's whole way into Slack: the subscription falls due, the run renders the real report
as its recipient, and the worker's own delivery job posts it with the organisation's
installation to the Slack stand-in, which receives the rendered blocks and the main chart's
bytes in the subscription's channel."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select

from backend.auth.service import viewer_for_user
from backend.reports.models import ReportDelivery, ReportKind, ReportRun
from backend.reports.render import render_report
from backend.reports.rendered import Links, Period
from backend.reports.runs import run_due_reports
from backend.slack.service import configure_slack
from backend.unit_of_work import transaction
from backend.worker import JOBS
from tests.backend.conftest import Loop
from tests.backend.reports.conftest import subscribe
from tests.backend.slack.conftest import BOT_TOKEN, SIGNING_SECRET, TEAM_ID
from tests.backend.slack.reports.standin import ReportSlackStandIn
from tests.factories import NOW


async def test_the_worker_posts_the_rendered_report_and_its_chart_to_slack(
    loop: Loop, slack: ReportSlackStandIn
) -> None:
    loop.state.clock = lambda: NOW
    world: Any = loop.world
    async with transaction(loop.state.sessions) as session:
        await configure_slack(
            session,
            organization_id=world.orgs["north"].id,
            secret_key=loop.state.settings.secret_key,
            slack_team_id=TEAM_ID,
            signing_secret=SIGNING_SECRET,
            bot_token=BOT_TOKEN,
            api_base_url=slack.base_url,
        )
    team_id = world.teams["alpha"].id
    await subscribe(
        loop,
        "manager_a",
        ReportKind.MANAGER_DAILY,
        created_at=NOW - dt.timedelta(days=2),
        team_id=team_id,
        channels=["slack"],
        slack_channel="C0REPORTS",
    )
    assert await run_due_reports(loop.state, now=NOW, render=render_report) == 1
    (run,) = await _rows(loop, ReportRun)
    # what the recipient's report holds, rendered again the same way for the comparison
    async with loop.state.sessions() as session:
        viewer = await viewer_for_user(session, world.users["manager_a"])
    expected = await render_report(
        loop.state.reads,
        viewer,
        kind=ReportKind.MANAGER_DAILY,
        period=Period(run.period_start.date(), run.period_end.date()),
        links=Links(loop.state.settings.public_base_url, unsubscribe_url=None),
        today=NOW.date(),
        now=NOW,
        team_id=team_id,
    )

    deliver = next(job for job in JOBS if job.name == "deliver_reports")
    assert await deliver.run(loop.state, NOW) == 1

    (posted,) = slack.of("chat.postMessage")
    assert posted.arguments["channel"] == "C0REPORTS"
    assert posted.authorization == f"Bearer {BOT_TOKEN}"
    blocks = posted.arguments["blocks"]
    if isinstance(blocks, str):  # form-encoded calls carry JSON text
        blocks = json.loads(blocks)
    assert _without_links(blocks) == _without_links(expected.slack_blocks)
    (upload,) = slack.uploads.values()
    assert upload.content == expected.charts[0].png
    assert upload.content is not None and upload.content.startswith(b"\x89PNG\r\n\x1a\n")
    (share,) = slack.shares
    assert (share.file_id, share.channel_id) == (upload.file_id, "C0REPORTS")
    (delivery,) = await _rows(loop, ReportDelivery)
    assert (delivery.channel, delivery.status, delivery.attempts) == ("slack", "sent", 1)
    (run,) = await _rows(loop, ReportRun)
    assert run.status == "sent"


def _without_links(blocks: Any) -> Any:
    """The blocks with their URLs blanked: a subscriber's report links its own unsubscribe
    page, the comparison's has none."""
    if isinstance(blocks, dict):
        return {k: ("url" if k == "url" else _without_links(v)) for k, v in blocks.items()}
    if isinstance(blocks, list):
        return [_without_links(b) for b in blocks]
    return blocks


async def _rows(loop: Loop, model: Any) -> list[Any]:
    async with loop.state.sessions() as session:
        return list(await session.scalars(select(model).order_by(model.id)))
