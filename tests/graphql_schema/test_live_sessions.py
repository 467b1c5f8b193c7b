"""Live subscriptions judge a credential's expiry by the app's clock (a session's, a user
token's), not the wall clock: the app's `TestClock` moved past the expiry ends them."""

from __future__ import annotations

import datetime as dt

import pytest

import graphql_schema.live.access as access
from backend.auth.sessions import open_session
from backend.auth.tokens import issue_user_token
from backend.unit_of_work import transaction
from tests.graphql_schema.test_subscriptions import (
    NEEDS_LABEL,
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
