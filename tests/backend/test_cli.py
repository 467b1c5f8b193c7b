"""The command line, run as a person runs it: a subprocess with environment variables."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text

from backend.auth.service import authenticate
from backend.database import create_engine, create_sessionmaker
from backend.demo.people import ACME, DEMO
from backend.demo.seed import MIN_ACTIONS_PER_AGENT
from backend.handlers import open_state
from backend.settings import load_settings
from backend.unit_of_work import transaction
from backend.viewer import ViewerRole
from tests.factories import build_world


def run_cli(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", **env}
    return subprocess.run(
        [sys.executable, "-m", "backend", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )


async def _build_world(url: str) -> None:
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await build_world(session)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def populated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated by the command line (`migrate`) holding the factories' world: made
    once per module (each `migrate` is a process of its own, seconds), copied for each test."""
    path = tmp_path_factory.mktemp("cli") / "cli.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrated = run_cli("migrate", database_url=url)
    assert migrated.returncode == 0, migrated.stderr
    asyncio.run(_build_world(url))
    return path


@pytest.fixture
def populated_url(populated_template: Path, tmp_path: Path) -> str:
    """A copy of `populated_template` of this test's own."""
    copy = tmp_path / "cli.db"
    shutil.copyfile(populated_template, copy)
    return f"sqlite+aiosqlite:///{copy}"


async def _viewer_for(url: str, credential: str):
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            return await authenticate(session, load_settings(database_url=url), credential)
    finally:
        await engine.dispose()


async def test_create_agent_key_prints_it_last(populated_url: str) -> None:
    result = run_cli(
        "create-api-key",
        "--org",
        "north",
        "--kind",
        "agent",
        "--agent",
        "agent_rep_a1",
        database_url=populated_url,
    )
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    viewer = await _viewer_for(populated_url, f"Bearer {key}")
    assert viewer.role is ViewerRole.AGENT and len(viewer.agent_ids or ()) == 1
    assert "write:actions" in viewer.scopes


async def test_create_partner_key_with_scopes(populated_url: str) -> None:
    result = run_cli(
        "create-api-key",
        "--org",
        "north",
        "--kind",
        "partner",
        "--scopes",
        "read:calibration,read:analytics",
        database_url=populated_url,
    )
    assert result.returncode == 0, result.stderr
    viewer = await _viewer_for(populated_url, result.stdout.strip().splitlines()[-1])
    assert viewer.role is ViewerRole.PARTNER
    assert viewer.scopes == {"read:calibration", "read:analytics"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--org", "nowhere", "--kind", "partner"), "organisation 'nowhere' not found"),
        (("--org", "north", "--kind", "agent"), "an agent key needs its agent"),
        (("--org", "north", "--kind", "agent", "--agent", "agent_rep_s1"), "agent 'agent_rep_s1'"),
        (("--org", "north", "--kind", "partner", "--scopes", "write:everything"), "unknown scopes"),
    ],
)
async def test_create_api_key_refuses_bad_input(populated_url: str, args, message: str) -> None:
    result = run_cli("create-api-key", *args, database_url=populated_url)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


async def test_issue_token_prints_a_working_token(populated_url: str) -> None:
    result = run_cli(
        "issue-token", "--email", "manager_a@north.example", database_url=populated_url
    )
    assert result.returncode == 0, result.stderr
    viewer = await _viewer_for(populated_url, result.stdout.strip().splitlines()[-1])
    assert viewer.role is ViewerRole.MANAGER and len(viewer.agent_ids or ()) == 2


def test_bad_database_url_names_the_scheme_without_a_traceback(tmp_path: Path) -> None:
    result = run_cli("migrate", database_url="mysql://root@localhost/sales")
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and "'mysql'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = run_cli("migrate", database_url="postgresql://postgres@127.0.0.1:1/none")
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot use the database")
    assert "Traceback" not in result.stderr


def test_serve_migrates_then_answers_probes(tmp_path: Path, unused_tcp_port: int) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    environment = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve", "--port", str(unused_tcp_port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{unused_tcp_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                    body = json.load(response)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "serve did not answer within 60 s"
                time.sleep(0.2)
        assert body["database"] == "ok" and body["broker"] == "in-process"
        with urllib.request.urlopen(f"{base}/", timeout=2) as response:
            assert b'<div id="app">' in response.read()  # the built dashboard
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=20)


async def test_worker_once_closes_expired_windows(populated_url: str) -> None:
    from backend.actions.service import ActionInput
    from backend.learning import submit_action
    from backend.viewer import Viewer

    state = open_state(load_settings(database_url=populated_url))
    try:
        async with state.sessions() as session:
            agent_id = await session.scalar(text("SELECT id FROM agents WHERE name='agent_rep_a1'"))
            org_id = await session.scalar(text("SELECT id FROM organizations WHERE slug='north'"))
        # old by the real clock, which the CLI's worker below runs on: every window has closed
        old = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
        data = ActionInput(
            action_type="email",
            confidence=0.1,
            idempotency_key="old",
            occurred_at=old,
            agent_id=agent_id,
        )
        await submit_action(state, Viewer.system(org_id), data)
    finally:
        await state.close()
    result = run_cli("worker", "--once", database_url=populated_url)
    assert result.returncode == 0, result.stderr
    assert "close_expired_windows: 2" in result.stdout
    again = run_cli("worker", "--once", database_url=populated_url)
    assert "close_expired_windows: 0" in again.stdout
    assert "prune_slack_event_receipts: 0" in again.stdout


def test_seed_demo_help_documents_scale() -> None:
    result = run_cli("seed-demo", "--help", database_url="sqlite+aiosqlite:///unused.db")
    assert result.returncode == 0, result.stderr
    assert "--scale FACTOR" in result.stdout and "positive number" in result.stdout
    assert "default 1" in result.stdout


@pytest.mark.parametrize("scale", ["0", "-0.5", "nan", "inf", "ten"])
def test_seed_demo_refuses_a_scale_that_is_not_positive(tmp_path: Path, scale: str) -> None:
    database = tmp_path / "refused.db"
    result = run_cli("seed-demo", "--scale", scale, database_url=f"sqlite+aiosqlite:///{database}")
    assert result.returncode == 2
    assert "error: argument --scale:" in result.stderr and "positive number" in result.stderr
    assert repr(scale) in result.stderr
    assert "Traceback" not in result.stderr
    assert not database.exists()  # refused before touching the database


def _actions_at(scale: float) -> tuple[int, int]:
    """Fewest and most actions the demo can hold at ``scale``: each agent's count is drawn
    from its organisation's range at scale 1, times ``scale``, never under the minimum."""
    low = high = 0
    for plan in (DEMO, ACME):
        agents = sum(team.reps for team in plan.teams)
        least, most = plan.actions_per_agent
        low += agents * max(MIN_ACTIONS_PER_AGENT, round(least * scale))
        high += agents * max(MIN_ACTIONS_PER_AGENT, round(most * scale))
    return low, high


async def test_seed_demo_at_a_small_scale_seeds_that_many_actions(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'small.db'}"
    result = run_cli("seed-demo", "--scale", "0.05", database_url=url)
    assert result.returncode == 0, result.stderr
    assert "seeded demo, acme in" in result.stdout
    assert "seed-demo: 100%" in result.stderr  # the progress bar, to its end
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            actions = await connection.scalar(text("SELECT count(*) FROM agent_actions"))
    finally:
        await engine.dispose()
    low, high = _actions_at(0.05)
    assert low <= actions <= high
    assert high < _actions_at(1.0)[0]  # so the count tells the scale was passed on


async def test_report_writes_an_eml_without_sending(populated_url: str, tmp_path: Path) -> None:
    """The manager's daily report of a past day (the world's activity lies days before its
    NOW, itself in the past), read back with the e-mail package; bad arguments are one line."""
    import email
    import email.policy

    from tests.factories import NOW

    out = tmp_path / "report.eml"
    day = (NOW - dt.timedelta(days=1)).date().isoformat()
    result = run_cli(
        "report",
        "--kind",
        "manager_daily",
        "--to",
        "manager_a@north.example",
        "--period",
        day,
        "--out",
        str(out),
        database_url=populated_url,
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    message = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert message["To"] == "manager_a@north.example" and "alpha" in str(message["Subject"])
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(("html",))
    assert html is not None and "cid:" in html.get_content()
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert images and all(p["Content-ID"] for p in images)
    for args, problem in (
        (("--to", "nobody@north.example", "--period", day), "--to: no active user"),
        (("--to", "manager_a@north.example", "--period", "2999-01-01"), "is not over yet"),
        (("--to", "manager_a@north.example", "--period", day, "--team", "gamma"), "--team"),
    ):
        refused = run_cli("report", "--kind", "manager_daily", *args, database_url=populated_url)
        assert refused.returncode != 0 and problem in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
