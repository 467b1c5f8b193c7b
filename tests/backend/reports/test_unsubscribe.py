"""The signed unsubscribe link: only a genuine token names a subscription; a GET never
unsubscribes; POST is idempotent; a deleted subscription is not found."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from backend.app import create_app
from backend.reports.models import ReportKind, ReportSubscription
from backend.reports.unsubscribe import (
    read_unsubscribe_token,
    unsubscribe_token,
    unsubscribe_url,
)
from backend.unit_of_work import transaction
from tests.backend.conftest import Loop
from tests.backend.reports.conftest import subscribe
from tests.factories import NOW

KEY = "k" * 40


def test_a_token_reads_back_and_any_change_breaks_it() -> None:
    token = unsubscribe_token(KEY, subscription_id=12, user_id=34)
    assert read_unsubscribe_token(KEY, token) == (12, 34)
    mac = token.split(".")[2]
    assert read_unsubscribe_token(KEY, f"13.34.{mac}") is None  # another subscription
    assert read_unsubscribe_token(KEY, f"12.35.{mac}") is None  # another person
    assert read_unsubscribe_token("x" * 40, token) is None  # another SECRET_KEY
    for bad in ("", "12.34", "a.b.c", f"12.34.{mac}x", "12.34.."):
        assert read_unsubscribe_token(KEY, bad) is None


async def test_the_endpoint(loop: Loop) -> None:
    world: Any = loop.world
    subscription = await subscribe(
        loop, "manager_a", ReportKind.MANAGER_DAILY, created_at=NOW - dt.timedelta(days=1)
    )
    settings = loop.state.settings
    path = unsubscribe_url(
        "", settings.secret_key, subscription_id=subscription.id, user_id=subscription.user_id
    )
    other = unsubscribe_token(
        "y" * 40, subscription_id=subscription.id, user_id=subscription.user_id
    )

    async def enabled() -> bool:
        async with loop.state.sessions() as session:
            row = await session.scalar(select(ReportSubscription))
        return bool(row and row.enabled)

    with TestClient(create_app(settings, clock=lambda: NOW)) as client:
        assert client.get(path).status_code == 200
        assert client.get(path + "&List-Unsubscribe=One-Click").status_code == 200
        assert await enabled()
        assert client.post(f"/reports/unsubscribe?token={other}").status_code == 400
        assert client.post("/reports/unsubscribe").status_code == 400
        assert await enabled()
        assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
        assert not await enabled()
        async with transaction(loop.state.sessions) as session:
            await session.delete(await session.get_one(ReportSubscription, subscription.id))
        assert client.post(path).status_code == 404
    assert world.users["manager_a"].id == subscription.user_id
