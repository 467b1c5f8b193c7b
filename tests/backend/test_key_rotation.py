"""Rotating SECRET_KEY: while the old key is in SECRET_KEY_PREVIOUS, user tokens it signed and
secrets it encrypted (Slack, partner webhooks) are still accepted; `rotate-secrets` re-encrypts
the secrets under the new key, after which the old one can go."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.auth.tokens import UserClaims, issue_user_token, read_user_token
from backend.database import create_engine, create_sessionmaker
from backend.derived_keys import SecretKey, key_ring
from backend.errors import DomainError
from backend.partner_webhooks import signing as webhook_signing
from backend.partner_webhooks.models import WebhookEndpoint
from backend.settings import SettingsError, load_settings
from backend.slack import secrets as slack_secrets
from backend.slack.models import SlackInstallation
from backend.slack.service import signing_secret_of, slack_client
from backend.unit_of_work import transaction
from tests.factories import build_world

KEY_A = "A-old-key-8tZk_Lr2Wm9xYc4bN7dHs1Fj6PgA0eTuK"
KEY_B = "B-new-key-Qp5Rw3Ev7Ty1Ui9Op4As6Df2Gh8Jk0LzX"
KEY_C = "C-older-key-Mn3Bv5Cx7Zl9Kj2Hg4Fd6Sa8Qw0ErTy"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
BOT_TOKEN = "xoxb-1234-5678-rotation"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ROOT = Path(__file__).resolve().parents[2]


def test_settings_carry_the_previous_keys_newest_first() -> None:
    settings = load_settings(secret_key=KEY_B, secret_key_previous=f" {KEY_A} ,{KEY_C},")
    assert settings.secret_key == KEY_B
    assert settings.previous_secret_keys == (KEY_A, KEY_C)
    assert key_ring(settings.secret_key) == (KEY_B, KEY_A, KEY_C)
    assert key_ring(KEY_B) == (KEY_B,)
    assert load_settings(secret_key=KEY_B).previous_secret_keys == ()
    with pytest.raises(SettingsError, match="SECRET_KEY_PREVIOUS: each key must be at least 32"):
        load_settings(secret_key=KEY_B, secret_key_previous=f"{KEY_A},short")


def test_a_user_token_signed_with_the_previous_key_is_accepted_during_the_rotation() -> None:
    now = dt.datetime(2026, 11, 2, 15, 30, tzinfo=dt.UTC)
    old = issue_user_token(
        user_id=7, organization_id=3, secret_key=KEY_A, ttl=dt.timedelta(hours=1), now=now
    )
    rotating = SecretKey(KEY_B, [KEY_C, KEY_A])
    claims = read_user_token(old, secret_key=rotating, now=now)
    assert claims == UserClaims(user_id=7, organization_id=3)
    # Without the old key (rotation over), the same token is refused, remembered or not.
    for key in (KEY_B, SecretKey(KEY_B, [KEY_C])):
        with pytest.raises(DomainError, match="invalid or expired token"):
            read_user_token(old, secret_key=key, now=now)
    # New tokens are signed with the current key only.
    new = issue_user_token(
        user_id=7, organization_id=3, secret_key=rotating, ttl=dt.timedelta(hours=1), now=now
    )
    assert read_user_token(new, secret_key=KEY_B, now=now) == claims
    with pytest.raises(DomainError):
        read_user_token(new, secret_key=KEY_A, now=now)


@pytest.mark.parametrize("module", [slack_secrets, webhook_signing])
def test_a_stored_secret_is_read_with_the_previous_key_and_rotated_to_the_current(
    module,
) -> None:
    stored = module.encrypt_secret(KEY_A, SIGNING_SECRET)
    rotating = SecretKey(KEY_B, [KEY_A])
    assert module.decrypt_secret(rotating, stored) == SIGNING_SECRET
    with pytest.raises(module.SecretUnreadable):
        module.decrypt_secret(KEY_B, stored)
    rotated = module.reencrypt_secret(rotating, stored)
    assert module.decrypt_secret(KEY_B, rotated) == SIGNING_SECRET
    with pytest.raises(module.SecretUnreadable):
        module.decrypt_secret(KEY_A, rotated)
    # What is encrypted during the rotation is under the current key.
    assert module.decrypt_secret(KEY_B, module.encrypt_secret(rotating, "x")) == "x"
    with pytest.raises(module.SecretUnreadable) as unreadable:
        module.reencrypt_secret(SecretKey(KEY_B, [KEY_C]), stored)
    assert "SECRET_KEY_PREVIOUS" in str(unreadable.value)


def _cli(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SECRET_KEY", "ENV"))}
    return subprocess.run(
        [sys.executable, "-m", "backend", *args],
        capture_output=True,
        text=True,
        env={**clean, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", **env},
        timeout=120,
        cwd=ROOT,
    )


async def _stored(url: str) -> tuple[SlackInstallation, WebhookEndpoint]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            installation = (await session.scalars(select(SlackInstallation))).one()
            endpoint = (await session.scalars(select(WebhookEndpoint))).one()
    finally:
        await engine.dispose()
    return installation, endpoint


async def test_rotate_secrets_moves_every_stored_secret_to_the_new_key(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'rotation.db'}"
    assert _cli("migrate", database_url=url).returncode == 0
    engine = create_engine(url)
    async with transaction(create_sessionmaker(engine)) as session:
        world = await build_world(session, actions_per_agent=0)
        session.add(
            WebhookEndpoint(
                organization_id=world.orgs["north"].id,
                url="https://partner.example/hooks",
                event_types=["outcome.resolved"],
                secret_encrypted=webhook_signing.encrypt_secret(KEY_A, WEBHOOK_SECRET),
            )
        )
    await engine.dispose()
    configured = _cli(
        "slack-config",
        "--org=north",
        "--team-id=T0ROTATE",
        database_url=url,
        SECRET_KEY=KEY_A,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_BOT_TOKEN=BOT_TOKEN,
    )
    assert configured.returncode == 0, configured.stderr

    # The key is switched to B, with A as previous: the stored secrets are still read.
    rotating = load_settings(database_url=url, secret_key=KEY_B, secret_key_previous=KEY_A)
    installation, endpoint = await _stored(url)
    assert signing_secret_of(installation, rotating.secret_key) == SIGNING_SECRET
    assert slack_client(installation, rotating.secret_key) is not None
    assert webhook_signing.decrypt_secret(rotating.secret_key, endpoint.secret_encrypted) == (
        WEBHOOK_SECRET
    )
    with pytest.raises(slack_secrets.SecretUnreadable):
        signing_secret_of(installation, KEY_B)  # not yet rotated

    rotated = _cli("rotate-secrets", database_url=url, SECRET_KEY=KEY_B, SECRET_KEY_PREVIOUS=KEY_A)
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.strip() == (
        "re-encrypted under SECRET_KEY: 1 Slack installation(s), 1 partner webhook endpoint(s)"
    )

    # B alone now reads everything; A reads nothing.
    installation, endpoint = await _stored(url)
    assert signing_secret_of(installation, KEY_B) == SIGNING_SECRET
    assert slack_secrets.decrypt_secret(KEY_B, installation.bot_token_encrypted) == BOT_TOKEN
    assert webhook_signing.decrypt_secret(KEY_B, endpoint.secret_encrypted) == WEBHOOK_SECRET
    with pytest.raises(slack_secrets.SecretUnreadable):
        signing_secret_of(installation, KEY_A)

    # Run again without the previous key: nothing is lost (idempotent).
    again = _cli("rotate-secrets", database_url=url, SECRET_KEY=KEY_B)
    assert again.returncode == 0, again.stderr


async def test_rotate_secrets_names_what_no_key_can_read(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lost.db'}"
    assert _cli("migrate", database_url=url).returncode == 0
    engine = create_engine(url)
    async with transaction(create_sessionmaker(engine)) as session:
        world = await build_world(session, actions_per_agent=0)
        session.add(
            WebhookEndpoint(
                organization_id=world.orgs["north"].id,
                url="https://partner.example/hooks",
                event_types=["outcome.resolved"],
                secret_encrypted=webhook_signing.encrypt_secret(KEY_A, WEBHOOK_SECRET),
            )
        )
    await engine.dispose()
    result = _cli("rotate-secrets", database_url=url, SECRET_KEY=KEY_B)  # A forgotten
    assert result.returncode == 1
    assert "0 partner webhook endpoint(s)" in result.stdout
    assert "error: partner webhook endpoint 1: the endpoint's signing secret cannot be" in (
        result.stderr
    )
    assert WEBHOOK_SECRET not in result.stderr


def test_webhook_senders_and_unsubscribe_links_of_the_previous_key_pass_during_the_rotation() -> (
    None
):
    """Inbound webhook secrets and report unsubscribe links are derived from SECRET_KEY: those
    handed out under the old key keep working while it is previous, and stop after."""
    from backend.reports.unsubscribe import read_unsubscribe_token, unsubscribe_token
    from backend.webhooks.signing import (
        SignatureError,
        signature_header,
        verify_signature,
        webhook_secret,
    )

    rotating = SecretKey(KEY_B, [KEY_A])
    body, at = b'{"events": []}', 1_790_000_000
    old_sender = signature_header(webhook_secret(KEY_A, "demo"), body, timestamp=at)
    ring = [webhook_secret(key, "demo") for key in key_ring(rotating)]
    assert verify_signature(ring, old_sender, body, now=at) == at
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(webhook_secret(KEY_B, "demo"), old_sender, body, now=at)

    link = unsubscribe_token(KEY_A, subscription_id=4, user_id=9)
    assert read_unsubscribe_token(rotating, link) == (4, 9)
    assert read_unsubscribe_token(KEY_B, link) is None
    assert read_unsubscribe_token(
        rotating, unsubscribe_token(rotating, subscription_id=4, user_id=9)
    ) == (4, 9)
