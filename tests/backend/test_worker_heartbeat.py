"""The worker's heartbeat: each turn of its loop rewrites WORKER_HEARTBEAT_FILE with the time by
the worker's clock (docker-compose.yml's health check reads the file's age)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from backend.handlers import open_state
from backend.settings import load_settings
from backend.worker import beat, run_worker
from tests.factories import NOW, TestClock


async def _first_beat(heartbeat: Path) -> str:
    while not heartbeat.exists() or not heartbeat.read_text():
        await asyncio.sleep(0.05)
    return heartbeat.read_text()


async def test_the_worker_loop_beats_by_its_clock(sqlite_database_url: str, tmp_path: Path) -> None:
    heartbeat = tmp_path / "worker.heartbeat"
    settings = load_settings(database_url=sqlite_database_url, worker_heartbeat_file=str(heartbeat))
    state = open_state(settings, clock=TestClock(NOW))
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(state, stop=stop))
    try:
        written = await asyncio.wait_for(_first_beat(heartbeat), timeout=60)
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=120)
        await state.close()
    at = dt.datetime.fromisoformat(written.strip())
    assert NOW <= at < NOW + dt.timedelta(minutes=1)


def test_a_beat_replaces_the_last_one(tmp_path: Path) -> None:
    heartbeat = tmp_path / "worker.heartbeat"
    beat(str(heartbeat), NOW)
    beat(str(heartbeat), NOW + dt.timedelta(seconds=15))
    assert heartbeat.read_text() == f"{(NOW + dt.timedelta(seconds=15)).isoformat()}\n"


def test_no_file_no_heartbeat_and_a_failed_write_is_only_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    beat(None, NOW)  # WORKER_HEARTBEAT_FILE unset: nothing to do
    assert list(tmp_path.iterdir()) == []
    unwritable = tmp_path / "missing-directory" / "worker.heartbeat"
    with caplog.at_level("WARNING", logger="backend.worker"):
        beat(str(unwritable), NOW)  # the jobs go on; the health check will say so
    assert any("heartbeat: cannot write" in r.getMessage() for r in caplog.records)
