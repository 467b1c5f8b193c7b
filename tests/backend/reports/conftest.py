"""Fixtures of the report tests: the learning loop's world with an administrator, its clock at
the factories' NOW (nothing here reads the wall clock)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from backend.auth.service import viewer_for_user
from backend.orgs.models import User
from backend.reports.models import ReportKind, ReportSubscription
from backend.reports.rendered import Chart, Links, Period, RenderedReport
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.backend.conftest import Loop
from tests.backend.notifications.conftest import smtp_server  # noqa: F401 (a fixture)
from tests.factories import NOW


@pytest.fixture(autouse=True)
def loop_at_now(request: pytest.FixtureRequest) -> None:
    """Tests on the learning loop's state run at NOW (the pure ones need no database)."""
    if "loop" in request.fixturenames:
        loop: Loop = request.getfixturevalue("loop")
        loop.state.clock = lambda: NOW


async def person(loop: Loop, key: str) -> Viewer:
    world: Any = loop.world
    async with loop.state.sessions() as session:
        return await viewer_for_user(session, world.users[key])


@pytest.fixture
async def admin(loop: Loop) -> Viewer:
    """An administrator of north (a person, not the service)."""
    world: Any = loop.world
    async with transaction(loop.state.sessions) as session:
        user = User(
            organization_id=world.orgs["north"].id,
            email="admin_n@north.example",
            name="admin_n",
            role="admin",
        )
        session.add(user)
        await session.flush()
        world.users["admin_n"] = user
        return await viewer_for_user(session, user)


# A 1x1 PNG: the charts of the quick renderer below.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


async def quick_render(
    reads: Any,
    viewer: Viewer,
    *,
    kind: str,
    period: Period,
    links: Links,
    today: dt.date,
    now: dt.datetime,
    team_id: int | None = None,
    agent_id: int | None = None,
) -> RenderedReport:
    """A report of the renderer's shape in no time, for the tests of scheduling and delivery
    (the real renderer is used where what the report holds matters)."""
    return RenderedReport(
        kind=ReportKind(kind),
        period=period,
        subject=f"{kind} {period.start}..{period.last_day} team {team_id}",
        html=f"<p>For {viewer.user_id}</p><img src='cid:main@report' alt='trend'>"
        f"<a href='{links.unsubscribe_url}'>Unsubscribe</a>",
        text=f"For {viewer.user_id}\nUnsubscribe: {links.unsubscribe_url}\n",
        charts=(Chart("main@report", "Trend", "the trend", PNG),),
        slack_blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "summary"}}],
        summary={"team_id": team_id, "agent_id": agent_id},
    )


async def subscribe(
    loop: Loop,
    user: str,
    kind: ReportKind,
    *,
    created_at: dt.datetime,
    **fields: Any,
) -> ReportSubscription:
    """A subscription as the service would store it, made at ``created_at``."""
    world: Any = loop.world
    weekly = kind is not ReportKind.MANAGER_DAILY
    values: dict[str, Any] = {
        "channels": ["email"],
        "timezone": "UTC",
        "send_hour": 8,
        "weekday": 0 if weekly else None,
        **fields,
    }
    async with transaction(loop.state.sessions) as session:
        subscription = ReportSubscription(
            organization_id=world.users[user].organization_id,
            user_id=world.users[user].id,
            kind=kind.value,
            cadence="weekly" if weekly else "daily",
            created_at=created_at,
            **values,
        )
        session.add(subscription)
        await session.flush()
        return subscription
