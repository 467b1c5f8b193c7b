"""Live subscriptions and the credentials they were opened with: their expiry is judged by the
app's clock (a session's, a user token's), not the wall clock; and a key revoked, a session
signed out or a person deactivated ends their subscriptions at once, through the revocation
announced on the broker (here the in-process one; Redis and a real server:
tests/e2e/test_subscriptions_ws.py), not at the next periodic re-check."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import update

import graphql_schema.live.access as access
from backend.auth.events import AccessRevoked
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, revoke_api_key
from backend.auth.sessions import open_session
from backend.auth.sign_in import sign_out
from backend.auth.tokens import issue_user_token
from backend.orgs.models import User
from backend.unit_of_work import raise_event, transaction
from backend.viewer import Viewer
from graphql_schema.live.hub import LiveHub
from tests.graphql_schema.test_subscriptions import (
    NEEDS_LABEL,
    Live,
    connect,
    needs_label,
    on_app_loop,
    state_of,
    wait_for_subscribers,
)

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TTL = dt.timedelta(hours=1)


def session_token(api, who: str) -> str:
    """A dashboard session of `who`, opened now by the app's clock, for TTL."""
    user = api.world.users[who]

    async def sign_in() -> str:
        async with transaction(state_of(api).sessions) as session:
            opened = await open_session(
                session,
                user_id=user.id,
                organization_id=user.organization_id,
                now=api.now(),
                ttl=TTL,
            )
        return opened.token

    return on_app_loop(api, sign_in)


def test_sessions_and_user_tokens_expire_by_the_apps_clock(api, monkeypatch) -> None:
    # The app's clock is weeks before the wall clock: by the wall clock, both are long expired.
    user = api.world.users["rep_a1"]
    api.tokens["session"] = session_token(api, "rep_a1")
    api.tokens["short_jwt"] = issue_user_token(
        user_id=user.id,
        organization_id=user.organization_id,
        secret_key=state_of(api).settings.secret_key,
        ttl=TTL,
        now=api.now(),
    )
    with (
        connect(api, "session") as by_session,
        connect(api, "short_jwt") as by_token,
        connect(api, "manager_a") as manager,  # its token lasts an hour of the wall clock
    ):
        for live in (by_session, by_token, manager):
            live.subscribe(NEEDS_LABEL)
        wait_for_subscribers(api, "outcome.needs_label", 3)
        needs_label(api, "agent_a1", "before expiry")
        for live in (by_session, by_token, manager):
            live.next_event("outcomeNeedsLabel")

        api.clock.advance(TTL + dt.timedelta(minutes=1))
        monkeypatch.setattr(access, "RECHECK_SECONDS", 0.0)  # re-check at the next event
        needs_label(api, "agent_a1", "after expiry")
        for live, why in (
            (by_session, "signed out, or the session expired"),
            (by_token, "invalid or expired token"),
        ):
            ended = live.receive()
            assert ended["type"] == "next" and ended["payload"]["data"] is None, ended
            error = ended["payload"]["errors"][0]
            assert error["extensions"]["code"] == "unauthenticated"
            assert error["message"] == f"credentials no longer valid: {why}"
            assert live.receive() == {"id": "1", "type": "complete"}
        assert manager.next_event("outcomeNeedsLabel")["version"] >= 2


def ended_unauthenticated(live: Live, why: str, *, within: float = 1.0) -> None:
    """The subscription ends with `unauthenticated` then `complete`, within ``within`` seconds."""
    started = time.monotonic()
    ended = live.receive(timeout=within)
    assert ended["type"] == "next" and ended["payload"]["data"] is None, ended
    error = ended["payload"]["errors"][0]
    assert error["extensions"]["code"] == "unauthenticated"
    assert error["message"] == f"credentials no longer valid: {why}"
    assert live.receive(timeout=within) == {"id": "1", "type": "complete"}
    assert time.monotonic() - started < within


def test_revoking_a_key_signing_out_or_deactivating_ends_live_subscriptions_at_once(api) -> None:
    assert access.RECHECK_SECONDS == 30.0  # no periodic re-check will come during this test
    north = Viewer.system(api.world.orgs["north"].id)

    async def new_partner_key() -> tuple[int, str]:
        async with transaction(state_of(api).sessions) as session:
            created = await create_api_key(
                session, viewer=north, kind=ApiClientKind.PARTNER, name="revoked soon"
            )
        return created.client.id, created.key

    partner_id, api.tokens["partner_x"] = on_app_loop(api, new_partner_key)
    api.tokens["session"] = session_token(api, "rep_a1")
    api.tokens["other_session"] = session_token(api, "rep_a1")  # another browser of theirs
    with (
        connect(api, "partner_x") as partner,
        connect(api, "session") as signed_in,
        connect(api, "other_session") as other_browser,
        connect(api, "rep_a2") as deactivated,
        connect(api, "partner_n") as other_key,
        connect(api, "manager_a") as manager,
    ):
        everyone = (partner, signed_in, other_browser, deactivated, other_key, manager)
        for live in everyone:
            live.subscribe(NEEDS_LABEL)
        wait_for_subscribers(api, "outcome.needs_label", len(everyone))
        needs_label(api, "agent_a1", "before")
        for live in (partner, signed_in, other_browser, other_key, manager):
            live.next_event("outcomeNeedsLabel")

        async def revoke_key() -> None:
            async with transaction(state_of(api).sessions) as session:
                await revoke_api_key(session, viewer=north, api_client_id=partner_id, now=api.now())

        on_app_loop(api, revoke_key)
        ended_unauthenticated(partner, "invalid API key")

        async def sign_out_session() -> None:
            async with transaction(state_of(api).sessions) as session:
                assert await sign_out(session, api.tokens["session"], now=api.now())

        on_app_loop(api, sign_out_session)
        ended_unauthenticated(signed_in, "signed out, or the session expired")

        rep_a2 = api.world.users["rep_a2"]

        async def deactivate() -> None:
            # As deactivating a person does: in the same unit of work, the announcement.
            async with transaction(state_of(api).sessions) as session:
                await session.execute(update(User).where(User.id == rep_a2.id).values(active=False))
                raise_event(
                    session,
                    AccessRevoked(organization_id=rep_a2.organization_id, user_id=rep_a2.id),
                )

        on_app_loop(api, deactivate)
        ended_unauthenticated(deactivated, "invalid or expired token")

        # Everyone else goes on: the other key, the person's other session, the manager.
        needs_label(api, "agent_a1", "after")
        for live in (other_browser, other_key, manager):
            assert live.next_event("outcomeNeedsLabel")["version"] >= 2


def test_a_revocation_checks_again_only_whom_it_may_concern(api, monkeypatch) -> None:
    """A revocation is a hint: the principals of that key or person are re-authenticated (the
    database decides), nobody else; one of another organisation concerns nobody here."""
    checked: list[str] = []
    real = access.authenticate

    async def counted(session, settings, credential, **options):  # type: ignore[no-untyped-def]
        checked.append(credential)
        return await real(session, settings, credential, **options)

    monkeypatch.setattr(access, "authenticate", counted)
    with connect(api, "rep_a1") as rep, connect(api, "partner_n") as partner:
        for live in (rep, partner):
            live.subscribe(NEEDS_LABEL)
        wait_for_subscribers(api, "outcome.needs_label", 2)
        checked.clear()
        hub = LiveHub.of(state_of(api))
        rep_a1 = api.world.users["rep_a1"]
        south = api.world.orgs["south"].id

        async def recheck(revoked: AccessRevoked) -> int:
            return await hub.recheck(revoked)

        # Still active: checked again, and it goes on.
        same_person = AccessRevoked(organization_id=rep_a1.organization_id, user_id=rep_a1.id)
        assert on_app_loop(api, lambda: recheck(same_person)) == 1
        assert checked == [f"Bearer {api.tokens['rep_a1']}"]
        elsewhere = AccessRevoked(organization_id=south, user_id=rep_a1.id)
        assert on_app_loop(api, lambda: recheck(elsewhere)) == 0
        assert len(checked) == 1
        needs_label(api, "agent_a1", "still here")
        for live in (rep, partner):
            live.next_event("outcomeNeedsLabel")
