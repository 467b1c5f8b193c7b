"""Real servers for tests: `python -m backend serve` on a free port of 127.0.0.1, always stopped."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx2

READY_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_ready(base_url: str, server: subprocess.Popen, log: Path, broker: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            response = httpx2.get(f"{base_url}/readyz", timeout=2)
            if response.status_code == 200:
                assert response.json()["broker"] == broker, response.text
                return
        except httpx2.TransportError:
            pass
        assert server.poll() is None, f"the server exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"not ready in {READY_TIMEOUT:g} s:\n{log.read_text()}"
        time.sleep(0.1)


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def redis_prefix_for(database_url: str) -> str:
    """The Redis channel prefix of every process of one test deployment (its database): tests
    that run at once on one Redis server, each with organisations numbered from 1, must not hear
    each other's events (nor share each other's budgets)."""
    return f"t{hashlib.sha256(database_url.encode()).hexdigest()[:10]}:"


def _start(
    database_url: str,
    logs: Path,
    *,
    secret_key: str,
    redis_url: str | None,
    environment: Mapping[str, str] | None,
) -> tuple[str, subprocess.Popen[bytes], Path]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secret_key,
        "WORKER_IN_PROCESS": "false",
        "LOG_LEVEL": "WARNING",
        "REDIS_CHANNEL_PREFIX": redis_prefix_for(database_url),
        **(environment or {}),
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    port = free_port()
    log = logs / f"server-{port}.log"
    command = [sys.executable, "-m", "backend", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as output:  # a file, never a pipe nobody reads
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    return f"http://127.0.0.1:{port}", server, log


@contextmanager
def running_servers(
    count: int,
    database_url: str,
    logs: Path,
    *,
    secret_key: str,
    redis_url: str | None,
    environment: Mapping[str, str] | None = None,
) -> Iterator[list[str]]:
    """``count`` servers started at once (they migrate the database together, as replicas of a
    deployment do); yields their base URLs once each /readyz answers."""
    started = []
    try:
        for _ in range(count):
            started.append(
                _start(
                    database_url,
                    logs,
                    secret_key=secret_key,
                    redis_url=redis_url,
                    environment=environment,
                )
            )
        for base_url, server, log in started:
            _wait_ready(base_url, server, log, "ok" if redis_url else "in-process")
        yield [base_url for base_url, _, _ in started]
    finally:
        for _, server, _ in started:
            _stop(server)


@contextmanager
def running_server(
    database_url: str,
    logs: Path,
    *,
    secret_key: str,
    redis_url: str | None,
    environment: Mapping[str, str] | None = None,
) -> Iterator[tuple[str, int]]:
    """Serve on a free port; yields (base URL, process id) once /readyz answers with the
    expected broker (Redis when ``redis_url`` is given, else the in-process one)."""
    base_url, server, log = _start(
        database_url, logs, secret_key=secret_key, redis_url=redis_url, environment=environment
    )
    try:
        _wait_ready(base_url, server, log, "ok" if redis_url else "in-process")
        yield base_url, server.pid
    finally:
        _stop(server)
