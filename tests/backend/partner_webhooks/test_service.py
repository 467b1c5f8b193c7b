"""Managing endpoints: admins and executives of the organisation only, a foreign id is unknown,
a bad URL or event type is refused naming the field and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from backend.auth.service import viewer_for_user
from backend.errors import DomainError, ErrorCode
from backend.partner_webhooks.models import WebhookEndpoint
from backend.partner_webhooks.service import (
    EndpointSpec,
    delete_endpoint,
    endpoints_page,
    redeliver,
    upsert_endpoint,
)
from backend.unit_of_work import transaction
from tests.backend.conftest import Loop
from tests.backend.partner_webhooks.conftest import add_endpoint
from tests.factories import NOW


async def count(loop: Loop) -> int:
    async with loop.state.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0)


@pytest.mark.parametrize(
    ("url", "types", "field"),
    [
        ("ftp://127.0.0.1/x", ["alert.changed"], "url"),
        ("http://", ["alert.changed"], "url"),
        ("https://user:pw@partner.example/x", ["alert.changed"], "url"),
        ("https://partner.example/x", [], "eventTypes"),
        ("https://partner.example/x", ["alert.changed", "deal.won"], "eventTypes[1]"),
    ],
)
async def test_a_bad_endpoint_is_refused_naming_the_field(
    loop: Loop, url: str, types: list[str], field: str
) -> None:
    with pytest.raises(DomainError) as caught:
        async with transaction(loop.state.sessions) as session:
            await upsert_endpoint(
                session,
                loop.admin,
                EndpointSpec(url=url, event_types=types),
                secret_key=loop.state.settings.secret_key,
                now=NOW,
            )
    assert caught.value.field == field and caught.value.code is ErrorCode.INVALID
    assert await count(loop) == 0


async def test_reps_and_managers_may_not_manage_endpoints(loop: Loop) -> None:
    for viewer in (loop.rep, loop.manager, loop.agent):
        with pytest.raises(DomainError) as caught:
            async with transaction(loop.state.sessions) as session:
                await upsert_endpoint(
                    session,
                    viewer,
                    EndpointSpec(url="https://partner.example/x", event_types=["alert.changed"]),
                    secret_key=loop.state.settings.secret_key,
                    now=NOW,
                )
        assert caught.value.code is ErrorCode.FORBIDDEN
    assert await count(loop) == 0


async def test_another_organisation_s_endpoint_is_unknown(loop: Loop) -> None:
    saved = await add_endpoint(loop, "https://partner.example/north")
    world: Any = loop.world
    async with loop.state.sessions() as session:
        south = await viewer_for_user(session, world.users["exec_s"])
        page = await endpoints_page(session, south, first=10, after=None)
    assert page.items == []
    for use_case in (
        lambda s: delete_endpoint(s, south, saved.endpoint.id, now=NOW),
        lambda s: upsert_endpoint(
            s,
            south,
            EndpointSpec(url="https://evil.example/", event_types=["alert.changed"]),
            secret_key="x" * 32,
            now=NOW,
            endpoint_id=saved.endpoint.id,
        ),
        lambda s: redeliver(s, south, 1, now=NOW),
    ):
        with pytest.raises(DomainError) as caught:
            async with transaction(loop.state.sessions) as session:
                await use_case(session)
        assert caught.value.code is ErrorCode.NOT_FOUND
    async with loop.state.sessions() as session:
        page = await endpoints_page(session, loop.admin, first=10, after=None)
    assert [e.url for e in page.items] == ["https://partner.example/north"]


async def test_an_update_keeps_the_secret_and_a_delete_hides_the_endpoint(loop: Loop) -> None:
    saved = await add_endpoint(loop, "https://partner.example/a")
    async with transaction(loop.state.sessions) as session:
        updated = await upsert_endpoint(
            session,
            loop.admin,
            EndpointSpec(url="https://partner.example/b", event_types=["policy.changed"]),
            secret_key=loop.state.settings.secret_key,
            now=NOW,
            endpoint_id=saved.endpoint.id,
        )
    assert updated.secret is None
    assert updated.endpoint.secret_encrypted == saved.endpoint.secret_encrypted
    assert updated.endpoint.event_types == ["policy.changed"]
    async with transaction(loop.state.sessions) as session:
        await delete_endpoint(session, loop.admin, saved.endpoint.id, now=NOW)
    async with loop.state.sessions() as session:
        page = await endpoints_page(session, loop.admin, first=10, after=None)
    assert page.items == []
