"""A backlog for the worker tests: e-mails whose 7-day reply windows have closed, nobody
replied. Seeded once per test process into a PostgreSQL database used as a template, and copied
for each test (`CREATE DATABASE ... TEMPLATE`, far quicker than seeding again)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from sqlalchemy import func, select

from backend.actions.service import ActionInput, record_action
from backend.calibration.models import CalibrationStat
from backend.database import create_engine
from backend.handlers import open_state
from backend.learning import judge_action
from backend.outcomes.models import Outcome, OutcomeStatus
from backend.outcomes.service import open_windows
from backend.settings import load_settings
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.conftest import REDIS_URL, _admin
from tests.e2e.conftest import SECRET_KEY
from tests.factories import TestClock, build_world
from tests.servers import redis_prefix_for

BACKLOG = 1200  # e-mails: three batches of the worker's 500


@contextmanager
def copy_of(template_url: str, prefix: str) -> Iterator[str]:
    """A new database copied from ``template_url`` (which nobody may be connected to)."""
    base, template = template_url.rsplit("/", 1)
    name = f"{prefix}_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def window_state(url: str) -> tuple[int, int, float]:
    """(outcomes still open and due, outcomes decided, calibration outcomes counted)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            open_due = await connection.scalar(
                select(func.count()).where(
                    Outcome.status == OutcomeStatus.OPEN,
                    Outcome.due_at <= dt.datetime.now(dt.UTC),
                )
            )
            decided = await connection.scalar(
                select(func.count()).where(Outcome.status != OutcomeStatus.OPEN)
            )
            counted = await connection.scalar(
                select(func.coalesce(func.sum(CalibrationStat.count), 0))
            )
            return int(open_due or 0), int(decided or 0), float(counted or 0)
    finally:
        await engine.dispose()


def start_worker(url: str, logs: Path, name: str) -> subprocess.Popen[bytes]:
    """`python -m backend worker` on ``url``, its output in ``logs / <name>.log``."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET_KEY,
        "REDIS_URL": REDIS_URL,
        "REDIS_CHANNEL_PREFIX": redis_prefix_for(url),
        "LOG_LEVEL": "INFO",
    }
    with (logs / f"{name}.log").open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "backend", "worker"], env=env, stdout=output, stderr=output
        )


async def seed_backlog(url: str, now: dt.datetime, *, count: int) -> None:
    """``count`` e-mails of one agent sent 8 days before ``now``: their 7-day reply windows
    have closed, nobody replied. Recorded as the API records them (the action, its windows), a
    few hundred per unit of work."""
    settings = load_settings(database_url=url, worker_in_process=False)
    state = open_state(settings, clock=TestClock(now))
    sent = now - dt.timedelta(days=8)
    try:
        async with transaction(state.sessions) as session:
            world = await build_world(session, actions_per_agent=0, now=sent)
        agent = world.agents["rep_a1"]
        system = Viewer.system(agent.organization_id)
        for start in range(0, count, 250):
            async with transaction(state.sessions) as session:
                for i in range(start, min(start + 250, count)):
                    recorded = await record_action(
                        session,
                        system,
                        ActionInput(
                            action_type="email",
                            confidence=0.4,
                            idempotency_key=f"expired-{i}",
                            occurred_at=sent,
                            agent_id=agent.id,
                            message_external_id=f"<expired-{i}@mail>",
                        ),
                        judge=partial(judge_action, session),
                        now=sent,
                    )
                    await open_windows(session, recorded.action)
    finally:
        await state.close()
