"""Slack secrets at rest: encrypted under a key derived from SECRET_KEY, never stored plain."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from backend.errors import DomainError, InvalidInput
from backend.slack.secrets import SecretUnreadable, decrypt_secret, encrypt_secret
from backend.slack.service import (
    configure_slack,
    installation_for_team,
    signing_secret_of,
    slack_client,
)
from backend.state import AppState
from backend.unit_of_work import transaction
from tests.backend.slack.conftest import BOT_TOKEN, SIGNING_SECRET, configure_north
from tests.factories import World

KEY = "k" * 48
OTHER_KEY = "o" * 48


def test_a_secret_decrypts_back_only_with_its_key() -> None:
    token = encrypt_secret(KEY, BOT_TOKEN)
    assert BOT_TOKEN not in token
    assert token != encrypt_secret(KEY, BOT_TOKEN)  # a fresh IV each time
    assert decrypt_secret(KEY, token) == BOT_TOKEN
    with pytest.raises(SecretUnreadable) as caught:
        decrypt_secret(OTHER_KEY, token, what="bot token")
    assert "bot token" in str(caught.value) and BOT_TOKEN not in str(caught.value)
    with pytest.raises(SecretUnreadable):
        decrypt_secret(KEY, "not a fernet token")


async def test_the_database_holds_only_ciphertext(state: AppState, world: World) -> None:
    await configure_north(state, world, "http://127.0.0.1:9/api/")
    async with state.sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT slack_team_id, signing_secret_encrypted, bot_token_encrypted, "
                    "api_base_url "
                    "FROM slack_installations"
                )
            )
        ).one()
    team, stored_secret, stored_token, base_url = row
    assert (team, base_url) == ("T0NORTH01", "http://127.0.0.1:9/api/")
    assert SIGNING_SECRET not in stored_secret and BOT_TOKEN not in stored_token
    assert decrypt_secret(state.settings.secret_key, stored_secret) == SIGNING_SECRET
    assert decrypt_secret(state.settings.secret_key, stored_token) == BOT_TOKEN
    with pytest.raises(SecretUnreadable):
        decrypt_secret(OTHER_KEY, stored_token)
    async with state.sessions() as session:
        installation = await installation_for_team(session, "T0NORTH01")
    assert installation is not None
    assert signing_secret_of(installation, state.settings.secret_key) == SIGNING_SECRET
    client = slack_client(installation, state.settings.secret_key)
    assert BOT_TOKEN not in repr(client)
    with pytest.raises(SecretUnreadable):
        slack_client(installation, OTHER_KEY)


async def test_configuring_again_replaces_the_installation(state: AppState, world: World) -> None:
    await configure_north(state, world, "http://127.0.0.1:9/api/")
    async with transaction(state.sessions) as session:
        await configure_slack(
            session,
            organization_id=world.orgs["north"].id,
            secret_key=KEY,
            slack_team_id="T0NORTH02",
            signing_secret="s2",
            bot_token="xoxb-2",
        )
    async with state.sessions() as session:
        rows = (
            await session.execute(
                text("SELECT slack_team_id, api_base_url FROM slack_installations")
            )
        ).all()
    assert [tuple(r) for r in rows] == [("T0NORTH02", "https://slack.com/api/")]
    with pytest.raises(InvalidInput) as caught:
        async with transaction(state.sessions) as session:
            await configure_slack(
                session,
                organization_id=world.orgs["south"].id,
                secret_key=KEY,
                slack_team_id="nope",
                signing_secret=" ",
                bot_token="xoxp-user",
                api_base_url="ftp://slack",
            )
    assert {e.field for e in caught.value.errors} == {
        "slackTeamId",
        "signingSecret",
        "botToken",
        "apiBaseUrl",
    }
    with pytest.raises(DomainError) as taken:  # one workspace, one organisation
        async with transaction(state.sessions) as session:
            await configure_slack(
                session,
                organization_id=world.orgs["south"].id,
                secret_key=KEY,
                slack_team_id="T0NORTH02",
                signing_secret="s3",
                bot_token="xoxb-3",
            )
    assert (taken.value.code.value, taken.value.field) == ("conflict", "slack_team_id")
