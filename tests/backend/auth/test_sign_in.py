"""Signing in by e-mail link, as use cases on both databases: a link for an active person only,
rate-limited per address and per client; good once and for 15 minutes (two redeems racing on
PostgreSQL open one session); a session resolves to its person's viewer until it is revoked or
expires, and never for an inactive person. Only tokens' SHA-256 are stored."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.models import SignInLink, UserSession
from backend.auth.service import authenticate, writes_on_use
from backend.auth.sessions import LAST_SEEN_EVERY, open_session
from backend.auth.sign_in import (
    LINK_TTL,
    LINKS_PER_ADDRESS,
    LINKS_PER_CLIENT,
    RATE_WINDOW,
    demo_people,
    link_is_usable,
    normalized_address,
    open_demo_session,
    redeem_link,
    request_link,
    sign_out,
)
from backend.errors import DomainError
from backend.orgs.models import Organization, User
from backend.settings import load_settings
from backend.unit_of_work import transaction
from backend.viewer import ViewerRole
from tests.factories import NOW, World, build_world

TTL = dt.timedelta(days=14)
SETTINGS = load_settings()


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    async with transaction(sessions) as session:
        return await build_world(session, actions_per_agent=0)


async def _link(sessions, address: str, now: dt.datetime = NOW, ip: str | None = "10.0.0.1"):
    async with transaction(sessions) as session:
        return await request_link(session, address=address, now=now, client_ip=ip, user_agent="UA")


async def _redeem(sessions, token: str, now: dt.datetime = NOW):
    async with transaction(sessions) as session:
        return await redeem_link(session, token, now=now, ttl=TTL, user_agent="Browser/1")


async def _count(sessions, model) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def _viewer(sessions, credential: str, now: dt.datetime):
    async with transaction(sessions) as session:
        return await authenticate(session, SETTINGS, credential, now=now)


def test_addresses_are_read_as_users_are_stored() -> None:
    assert normalized_address("  Rep_A1@North.Example ") == "rep_a1@north.example"
    for wrong in ("", "rep", "@north.example", "rep@", "a b@c.d", "x" * 320 + "@c.d"):
        assert normalized_address(wrong) is None, wrong


async def test_a_link_opens_one_session_once(sessions, world: World) -> None:
    link = await _link(sessions, "rep_a1@north.example")
    assert link is not None and link.address == "rep_a1@north.example"
    assert link.expires_at == NOW + LINK_TTL
    async with sessions() as session:
        row = await session.scalar(select(SignInLink))
        assert row.token_hash == hashlib.sha256(link.token.encode()).hexdigest()
        assert (row.user_id, row.client_ip, row.user_agent) == (
            world.users["rep_a1"].id,
            "10.0.0.1",
            "UA",
        )
        assert link.token not in {str(v) for v in row.__dict__.values()}  # only its hash
        assert await link_is_usable(session, link.token, now=NOW)

    opened = await _redeem(sessions, link.token, NOW + dt.timedelta(minutes=1))
    assert opened is not None and opened.token.startswith("sals_")
    assert opened.row.expires_at == NOW + dt.timedelta(minutes=1) + TTL
    assert await _redeem(sessions, link.token, NOW + dt.timedelta(minutes=2)) is None
    async with sessions() as session:
        assert not await link_is_usable(session, link.token, now=NOW)
        stored = await session.scalar(select(UserSession))
        assert stored.token_hash == hashlib.sha256(opened.token.encode()).hexdigest()
        assert stored.user_agent == "Browser/1"
        used = await session.scalar(select(SignInLink.used_at))
        assert used == NOW + dt.timedelta(minutes=1)
    assert await _count(sessions, UserSession) == 1

    viewer = await _viewer(sessions, opened.token, NOW + dt.timedelta(days=1))
    assert (viewer.role, viewer.user_id) == (ViewerRole.REP, world.users["rep_a1"].id)
    assert viewer.agent_ids == {world.agents["rep_a1"].id}
    assert writes_on_use(opened.token) and writes_on_use(f"Bearer {opened.token}")


async def test_nothing_is_sent_for_an_unknown_or_inactive_address(sessions, world: World) -> None:
    assert await _link(sessions, "nobody@north.example") is None
    async with transaction(sessions) as session:
        await session.execute(
            update(User).where(User.id == world.users["rep_a2"].id).values(active=False)
        )
    assert await _link(sessions, "rep_a2@north.example") is None
    assert await _count(sessions, SignInLink) == 0


async def test_an_expired_or_unknown_link_opens_nothing(sessions, world: World) -> None:
    link = await _link(sessions, "rep_a1@north.example")
    assert await _redeem(sessions, "not-a-link") is None
    assert await _redeem(sessions, link.token, NOW + LINK_TTL) is None  # at expiry: over
    async with sessions() as session:
        assert not await link_is_usable(session, link.token, now=NOW + LINK_TTL)
    later = await _link(sessions, "rep_a1@north.example")
    assert await _redeem(sessions, later.token, NOW + LINK_TTL - dt.timedelta(seconds=1))
    assert await _count(sessions, UserSession) == 1


async def test_a_link_of_a_person_deactivated_since_opens_nothing(sessions, world) -> None:
    link = await _link(sessions, "rep_a1@north.example")
    async with transaction(sessions) as session:
        await session.execute(
            update(User).where(User.id == world.users["rep_a1"].id).values(active=False)
        )
    assert await _redeem(sessions, link.token) is None
    assert await _count(sessions, UserSession) == 0


async def test_links_are_limited_per_address_and_window(sessions, world: World) -> None:
    address = "rep_a1@north.example"
    for minute in range(LINKS_PER_ADDRESS):
        at = NOW + dt.timedelta(minutes=minute)
        assert await _link(sessions, address, at, ip=f"10.0.0.{minute}") is not None
    at = NOW + dt.timedelta(minutes=LINKS_PER_ADDRESS)
    assert await _link(sessions, address, at, ip="10.9.9.9") is None  # another client too
    assert await _link(sessions, "rep_a2@north.example", at) is not None  # another address
    # The first link leaves the window RATE_WINDOW after it was asked for.
    assert await _link(sessions, address, NOW + RATE_WINDOW) is not None
    assert await _link(sessions, address, NOW + RATE_WINDOW) is None


async def test_links_are_limited_per_client(sessions, world: World) -> None:
    people = ["exec_n", "manager_a", "rep_a1", "rep_a2", "rep_b1"]
    asked = 0
    for key in people:
        for _ in range(LINKS_PER_CLIENT // len(people)):
            assert await _link(sessions, f"{key}@north.example", ip="10.0.0.7") is not None
            asked += 1
    assert asked == LINKS_PER_CLIENT
    assert await _link(sessions, "rep_s1@south.example", ip="10.0.0.7") is None
    assert await _link(sessions, "rep_s1@south.example", ip="10.0.0.8") is not None
    assert await _link(sessions, "rep_s1@south.example", ip=None) is not None


async def test_two_redeems_racing_open_one_session(sessions, world, database_url) -> None:
    """The first redeem holds the link's row until it commits; the second, meanwhile blocked on
    PostgreSQL, then finds the link used."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: no two transactions write at once")
    link = await _link(sessions, "rep_a1@north.example")
    async with sessions() as first:
        won = await redeem_link(first, link.token, now=NOW, ttl=TTL)
        assert won is not None
        second = asyncio.create_task(_redeem(sessions, link.token))
        await asyncio.sleep(0.3)
        assert not second.done()  # waiting for the first's lock
        await first.commit()
    assert await asyncio.wait_for(second, 10) is None
    assert await _count(sessions, UserSession) == 1

    # And many at once, each in its own transaction: one session.
    link = await _link(sessions, "rep_a2@north.example")
    results = await asyncio.gather(*(_redeem(sessions, link.token) for _ in range(8)))
    assert sum(r is not None for r in results) == 1
    assert await _count(sessions, UserSession) == 2


async def test_a_session_ends_when_revoked_expired_or_its_person_deactivated(
    sessions, world: World
) -> None:
    users = world.users
    async with transaction(sessions) as session:
        opened = {
            key: await open_session(
                session,
                user_id=users[key].id,
                organization_id=users[key].organization_id,
                now=NOW,
                ttl=TTL,
            )
            for key in ("rep_a1", "rep_a2", "manager_a", "exec_n")
        }
    assert (await _viewer(sessions, opened["manager_a"].token, NOW)).role is ViewerRole.MANAGER

    async with transaction(sessions) as session:
        assert await sign_out(session, opened["rep_a1"].token, now=NOW)
        assert not await sign_out(session, opened["rep_a1"].token, now=NOW)  # once
        await session.execute(
            update(User).where(User.id == users["rep_a2"].id).values(active=False)
        )
    for key, now in (
        ("rep_a1", NOW),  # signed out
        ("rep_a2", NOW),  # deactivated
        ("manager_a", NOW + TTL),  # expired: the lifetime is fixed, whatever the use
        ("exec_n", NOW + TTL + dt.timedelta(days=1)),
    ):
        with pytest.raises(DomainError, match="signed out, or the session expired"):
            await _viewer(sessions, opened[key].token, now)
    with pytest.raises(DomainError, match="signed out, or the session expired"):
        await _viewer(sessions, "sals_unknown", NOW)
    assert (await _viewer(sessions, opened["exec_n"].token, NOW + TTL / 2)).role is (
        ViewerRole.EXECUTIVE
    )


async def test_last_seen_is_written_at_most_every_few_minutes(sessions, world: World) -> None:
    rep = world.users["rep_a1"]
    async with transaction(sessions) as session:
        opened = await open_session(
            session, user_id=rep.id, organization_id=rep.organization_id, now=NOW, ttl=TTL
        )

    async def last_seen() -> dt.datetime:
        async with sessions() as session:
            return await session.scalar(select(UserSession.last_seen_at))

    await _viewer(sessions, opened.token, NOW + LAST_SEEN_EVERY / 2)
    assert await last_seen() == NOW
    await _viewer(sessions, opened.token, NOW + LAST_SEEN_EVERY)
    assert await last_seen() == NOW + LAST_SEEN_EVERY


async def test_the_demos_people_are_the_demo_organisations_active_users(
    sessions, world: World
) -> None:
    async with transaction(sessions) as session:
        demo = Organization(slug="demo", name="Demo")
        session.add(demo)
        await session.flush()
        for email, role, active in (
            ("rep1@demo.example", "rep", True),
            ("exec@demo.example", "executive", True),
            ("gone@demo.example", "rep", False),
            ("manager1@demo.example", "manager", True),
        ):
            session.add(
                User(organization_id=demo.id, email=email, name=email, role=role, active=active)
            )
    async with transaction(sessions) as session:
        people = await demo_people(session)
        assert [p.email for p in people] == [
            "exec@demo.example",
            "manager1@demo.example",
            "rep1@demo.example",
        ]
        assert await open_demo_session(session, people[0].id, now=NOW, ttl=TTL) is not None
        north = world.users["exec_n"].id
        assert await open_demo_session(session, north, now=NOW, ttl=TTL) is None
