"""`python -m backend slack-config`, run as a person runs it, against the Slack stand-in: its
secrets come from the environment or standard input, never from arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from backend.database import create_engine, create_sessionmaker
from backend.migrations import upgrade_async
from backend.orgs.models import Organization
from backend.slack.secrets import decrypt_secret
from backend.unit_of_work import transaction
from tests.backend.slack.conftest import BOT_TOKEN, SIGNING_SECRET, TEAM_ID
from tests.backend.slack.standin import SlackStandIn

ROOT = Path(__file__).resolve().parents[3]
KEY = "cli-test-secret-key-0123456789abcdefghijkl"


def slack_config(
    url: str, *arguments: str, stdin: str | None = None, **secrets: str
) -> subprocess.CompletedProcess[str]:
    """Run the command; ``secrets`` are environment variables (SLACK_SIGNING_SECRET, ...)."""
    environment = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "SECRET_KEY": KEY}
    for name in ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN"):
        environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "backend", "slack-config", *arguments],
        capture_output=True,
        text=True,
        env={**environment, **secrets},
        input=stdin,
        cwd=ROOT,
        timeout=120,
    )


async def test_slack_config_asks_slack_for_the_team_and_stores_secrets_encrypted(
    tmp_path: Path, stand_in: SlackStandIn
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    async with transaction(create_sessionmaker(engine)) as session:
        session.add(Organization(slug="acme", name="Acme"))
    done = slack_config(
        url,
        "--org",
        "acme",
        "--api-base-url",
        stand_in.base_url,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_BOT_TOKEN=BOT_TOKEN,
    )
    assert done.returncode == 0, done.stderr
    assert f"team {TEAM_ID}" in done.stdout
    assert SIGNING_SECRET not in done.stdout + done.stderr
    assert BOT_TOKEN not in done.stdout + done.stderr
    assert stand_in.methods() == ["auth.test"]
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT slack_team_id, signing_secret_encrypted, bot_token_encrypted, "
                    "api_base_url "
                    "FROM slack_installations"
                )
            )
        ).one()
    assert (row[0], row[3]) == (TEAM_ID, stand_in.base_url)
    assert decrypt_secret(KEY, row[1]) == SIGNING_SECRET
    assert decrypt_secret(KEY, row[2]) == BOT_TOKEN

    refused = slack_config(
        url,
        "--org",
        "acme",
        "--secrets-from-stdin",
        "--api-base-url",
        stand_in.base_url,
        stdin=f"{SIGNING_SECRET}\nxoxb-revoked\n",
    )
    assert refused.returncode == 1 and "invalid_auth" in refused.stderr
    wrong = slack_config(
        url,
        "--org",
        "acme",
        "--team-id",
        "T0ACME",
        SLACK_SIGNING_SECRET="",
        SLACK_BOT_TOKEN="xoxp-1",
    )
    assert wrong.returncode == 1
    assert "signingSecret" in wrong.stderr and "botToken" in wrong.stderr
    missing = slack_config(
        url,
        "--org",
        "nowhere",
        "--team-id",
        "T0ACME",
        SLACK_SIGNING_SECRET="s",
        SLACK_BOT_TOKEN="xoxb-1",
    )
    assert missing.returncode == 1 and "'nowhere' not found" in missing.stderr
    unset = slack_config(url, "--org", "acme", "--team-id", "T0ACME")
    assert unset.returncode == 1
    assert "SLACK_SIGNING_SECRET" in unset.stderr and "--secrets-from-stdin" in unset.stderr
    short = slack_config(
        url, "--org", "acme", "--team-id", "T0ACME", "--secrets-from-stdin", stdin="only-one\n"
    )
    assert short.returncode == 1 and "one a line" in short.stderr
    as_argument = slack_config(url, "--org", "acme", "--signing-secret", SIGNING_SECRET)
    assert as_argument.returncode == 2  # no such option: a secret is never an argument
    async with engine.connect() as connection:  # the refusals changed nothing
        teams = await connection.execute(text("SELECT slack_team_id FROM slack_installations"))
        assert [r[0] for r in teams] == [TEAM_ID]
    await engine.dispose()
