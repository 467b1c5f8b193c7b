"""The administration commands, run through the CLI's `main` as a person runs them (arguments,
environment, exit status, what is printed where): each audited, keys rotated and revoked, a
person deactivated and refused, refusals as one line on standard error."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.auth.service import authenticate
from backend.auth.tokens import issue_user_token
from backend.cli import main
from backend.database import create_engine, create_sessionmaker
from backend.errors import DomainError
from backend.migrations import upgrade
from backend.orgs.models import AdminAuditEntry, User
from backend.settings import load_settings
from backend.unit_of_work import transaction
from backend.viewer import ViewerRole
from tests.factories import build_world


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite database with the factories' world, named by DATABASE_URL."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'admin.db'}"
    upgrade(database)

    async def populate() -> None:
        engine = create_engine(database)
        async with transaction(create_sessionmaker(engine)) as session:
            await build_world(session, actions_per_agent=0)
        await engine.dispose()

    asyncio.run(populate())
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("SMTP_HOST", raising=False)
    return database


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


async def _query(url: str, statement):  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            return list(await session.scalars(statement))
    finally:
        await engine.dispose()


async def _authenticate(url: str, credential: str):  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            return await authenticate(session, load_settings(database_url=url), credential)
    finally:
        await engine.dispose()


def test_org_team_person_and_agent_created_and_audited(url: str, capsys) -> None:
    assert (
        cli(capsys, "create-org", "--slug", "west", "--name", "West", "--timezone", "Europe/Oslo")[
            0
        ]
        == 0
    )
    status, out, err = cli(capsys, "create-team", "--org", "west", "--name", "Sales")
    assert status == 0 and "created team 'Sales'" in out
    status, out, err = cli(
        capsys,
        "invite-user",
        "--org",
        "west",
        "--email",
        "Wes@West.example",
        "--name",
        "Wes",
        "--role",
        "rep",
        "--team",
        "sales",
    )
    assert status == 0, err
    assert "added wes@west.example" in out and "no invitation mailed" in err
    status, out, err = cli(
        capsys,
        "create-agent",
        "--org",
        "west",
        "--name",
        "agent_wes",
        "--owner",
        "wes@west.example",
        "--team",
        "Sales",
    )
    assert status == 0, err
    status, out, err = cli(capsys, "deactivate-agent", "--org", "west", "--agent", "agent_wes")
    assert status == 0 and "keys revoked: none" in out
    changes = asyncio.run(_query(url, select(AdminAuditEntry.change).order_by(AdminAuditEntry.id)))
    assert changes == [
        "organization.created",
        "team.created",
        "user.invited",
        "agent.created",
        "agent.deactivated",
    ]
    actors = asyncio.run(_query(url, select(AdminAuditEntry.actor_user_id).distinct()))
    assert actors == [None]  # the operator, at the command line


def test_refusals_are_one_line_on_stderr(url: str, capsys) -> None:
    for args, expected in (
        (("create-org", "--slug", "north", "--name", "N"), "exists"),
        (("create-org", "--slug", "Bad Slug!", "--name", "N"), "slug"),
        (("create-team", "--org", "nowhere", "--name", "x"), "'nowhere' not found"),
        (("create-team", "--org", "north", "--name", "alpha"), "a team is named"),
        (
            (
                "invite-user",
                "--org",
                "north",
                "--email",
                "x@n.example",
                "--name",
                "X",
                "--role",
                "rep",
            ),
            "a rep needs a team",
        ),
        (("deactivate-user", "--org", "north", "--email", "rep_s1@south.example"), "not found"),
        (("rotate-api-key", "--org", "north", "--id", "999"), "API key"),
        (("revoke-api-key", "--org", "south", "--id", "1"), "API key"),
    ):
        status, _, err = cli(capsys, *args)
        assert status == 1 and expected in err and err.startswith("error: "), (args, err)


def test_keys_listed_rotated_and_revoked(url: str, capsys) -> None:
    status, out, err = cli(
        capsys, "create-api-key", "--org", "north", "--kind", "partner", "--name", "crm"
    )
    assert status == 0, err
    old_key = out.strip().splitlines()[-1]
    asyncio.run(_authenticate(url, old_key))  # records its use
    status, out, err = cli(capsys, "list-api-keys", "--org", "north")
    assert status == 0
    header, row = out.strip().splitlines()
    assert header.split("\t") == [
        "id", "kind", "name", "prefix", "scopes", "created", "last_used", "revoked",
    ]  # fmt: skip
    key_id, kind, name, prefix, scopes, _, last_used, revoked = row.split("\t")
    assert (kind, name, scopes, revoked) == (
        "partner",
        "crm",
        "read:actions,read:analytics,read:calibration,read:feedback,read:outcomes",
        "-",
    )
    assert last_used != "-"
    assert old_key.startswith(f"sal_{prefix}")
    assert old_key not in out + err

    status, out, err = cli(capsys, "rotate-api-key", "--org", "north", "--id", key_id)
    assert status == 0, err
    new_key = out.strip().splitlines()[-1]
    assert new_key != old_key and f"key #{key_id} revoked" in err
    viewer = asyncio.run(_authenticate(url, new_key))
    assert viewer.role is ViewerRole.PARTNER
    with pytest.raises(DomainError):
        asyncio.run(_authenticate(url, old_key))

    new_id = str(viewer.api_client_id)
    status, out, err = cli(capsys, "revoke-api-key", "--org", "north", "--id", new_id)
    assert status == 0 and f"key #{new_id}" in out
    with pytest.raises(DomainError):
        asyncio.run(_authenticate(url, new_key))
    status, out, err = cli(capsys, "revoke-api-key", "--org", "south", "--id", new_id)
    assert status == 1 and "not found" in err  # another organisation's key is unknown
    changes = asyncio.run(_query(url, select(AdminAuditEntry.change).order_by(AdminAuditEntry.id)))
    assert changes == ["api_key.created", "api_key.rotated", "api_key.revoked"]


def test_a_deactivated_person_is_refused(url: str, capsys) -> None:
    [rep] = asyncio.run(_query(url, select(User).where(User.email == "rep_a1@north.example")))
    token = issue_user_token(
        user_id=rep.id,
        organization_id=rep.organization_id,
        secret_key=load_settings().secret_key,
        ttl=dt.timedelta(hours=1),
    )
    assert asyncio.run(_authenticate(url, token)).user_id == rep.id
    status, out, _ = cli(
        capsys, "deactivate-user", "--org", "north", "--email", "rep_a1@north.example"
    )
    assert status == 0 and "deactivated rep_a1@north.example" in out
    with pytest.raises(DomainError):
        asyncio.run(_authenticate(url, token))


def test_every_administration_command_explains_itself(capsys) -> None:
    for command in (
        "create-org",
        "create-team",
        "invite-user",
        "deactivate-user",
        "create-agent",
        "deactivate-agent",
        "list-api-keys",
        "rotate-api-key",
        "revoke-api-key",
    ):
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        assert done.value.code == 0
        assert "--org" in capsys.readouterr().out or command == "create-org"
