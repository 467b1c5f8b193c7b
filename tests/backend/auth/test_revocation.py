"""Revoking credentials, as use cases on both databases: an API key (by an administrator or
executive of its organisation) and a session (sign-out) are refused from then on, and each
revocation raises one `AccessRevoked` after commit, announced on the broker by its handler."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from backend.auth.events import ACCESS_REVOKED_CHANNEL, AccessRevoked
from backend.auth.models import ApiClientKind
from backend.auth.service import authenticate, create_api_key, revoke_api_key, viewer_for_user
from backend.auth.sessions import open_session
from backend.auth.sign_in import sign_out
from backend.errors import DomainError, NotFoundError, PermissionDeniedError
from backend.handlers import open_state
from backend.settings import load_settings
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.factories import NOW, World, build_world

SETTINGS = load_settings()


@pytest.fixture
async def world(sessions) -> World:
    async with transaction(sessions) as session:
        return await build_world(session, actions_per_agent=0)


async def _partner_key(sessions, world: World) -> tuple[int, str]:
    async with transaction(sessions) as session:
        created = await create_api_key(
            session,
            viewer=Viewer.system(world.orgs["north"].id),
            kind=ApiClientKind.PARTNER,
            name="p",
        )
    return created.client.id, created.key


async def test_a_revoked_key_is_refused_and_announced_once(sessions, world: World) -> None:
    key_id, key = await _partner_key(sessions, world)
    north = world.orgs["north"].id
    held: list = []
    async with transaction(sessions, hold=held) as session:
        client = await revoke_api_key(
            session, viewer=Viewer.system(north), api_client_id=key_id, now=NOW
        )
        assert client.revoked_at == NOW
        assert held == []  # nothing before commit
    assert held == [AccessRevoked(organization_id=north, api_client_id=key_id)]
    async with transaction(sessions, hold=held) as session:  # again: nothing changes
        await revoke_api_key(
            session, viewer=Viewer.system(north), api_client_id=key_id, now=NOW + dt.timedelta(1)
        )
    assert len(held) == 1
    async with sessions() as session:
        with pytest.raises(DomainError, match="invalid API key"):
            await authenticate(session, SETTINGS, key, now=NOW)


async def test_only_its_organisations_administrators_revoke_a_key(sessions, world: World) -> None:
    key_id, _ = await _partner_key(sessions, world)
    async with sessions() as session:
        manager = await viewer_for_user(session, world.users["manager_a"])
        with pytest.raises(PermissionDeniedError):
            await revoke_api_key(session, viewer=manager, api_client_id=key_id, now=NOW)
        south = Viewer.system(world.orgs["south"].id)
        with pytest.raises(NotFoundError):
            await revoke_api_key(session, viewer=south, api_client_id=key_id, now=NOW)
        executive = await viewer_for_user(session, world.users["exec_n"])
        await revoke_api_key(session, viewer=executive, api_client_id=key_id, now=NOW)


async def test_signing_out_announces_the_session_once(sessions, world: World) -> None:
    user = world.users["rep_a1"]
    async with transaction(sessions) as session:
        opened = await open_session(
            session,
            user_id=user.id,
            organization_id=user.organization_id,
            now=NOW,
            ttl=dt.timedelta(days=14),
        )
    held: list = []
    async with transaction(sessions, hold=held) as session:
        assert await sign_out(session, opened.token, now=NOW)
    assert held == [
        AccessRevoked(
            organization_id=user.organization_id, user_id=user.id, session_id=opened.row.id
        )
    ]
    async with transaction(sessions, hold=held) as session:
        assert not await sign_out(session, opened.token, now=NOW)  # already ended
    assert len(held) == 1


async def test_the_handler_announces_revocations_on_the_broker(database_url: str) -> None:
    state = open_state(load_settings(database_url=database_url))
    try:
        heard = state.broker.subscribe(ACCESS_REVOKED_CHANNEL)
        revoked = AccessRevoked(organization_id=3, user_id=7, session_id=11)
        await state.bus.dispatch([revoked])
        message = await asyncio.wait_for(anext(heard), timeout=5)
        assert AccessRevoked.of_message(message) == revoked
        await heard.aclose()
    finally:
        await state.close()


def test_an_announcement_reads_back_or_is_refused() -> None:
    revoked = AccessRevoked(organization_id=1, api_client_id=2)
    assert AccessRevoked.of_message(revoked.message()) == revoked
    for wrong in ({}, {"organization_id": "x"}, {"organization_id": 1, "user_id": [1]}):
        with pytest.raises(ValueError, match="not an access revocation"):
            AccessRevoked.of_message(wrong)
    assert revoked.concerns(organization_id=1, user_id=None, api_client_id=2)
    assert not revoked.concerns(organization_id=9, user_id=None, api_client_id=2)
    assert not revoked.concerns(organization_id=1, user_id=2, api_client_id=None)
