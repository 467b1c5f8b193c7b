"""The servers the benches start, each one uvicorn process on 127.0.0.1: the real app
(`python -m backend serve`, with the Redis broker and its limits raised so that they never
refuse the load) and, for `bench_graphql.py`, `bench/plain_endpoint.py`. Their output goes to
files."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_environment(url: str, *, redis_url: str, secret_key: str) -> dict[str, str]:
    """The environment of the real app under load: no worker, limits that never refuse."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": secret_key,
        "WORKER_IN_PROCESS": "false",
        "LOG_LEVEL": "WARNING",
        "ENV": "development",
        "GRAPHQL_REQUESTS_PER_MINUTE": "100000000",
        "GRAPHQL_COST_BUDGET": "1000000000",
        "GRAPHQL_COST_REFILL": "1000000000",
    }


@contextlib.contextmanager
def app_server(
    url: str, log: Path, *, redis_url: str, secret_key: str, channel_prefix: str | None = None
) -> Iterator[tuple[int, int]]:
    """One real app (``python -m backend serve``) on ``url``, ready: (port, pid). Its output
    goes to ``log``; ``channel_prefix`` keeps its Redis channels apart from other runs'.
    Always stopped on the way out."""
    environment = app_environment(url, redis_url=redis_url, secret_key=secret_key)
    if channel_prefix is not None:
        environment["REDIS_CHANNEL_PREFIX"] = channel_prefix
    port = free_port()
    with log.open("w") as output:  # a file, never an unread pipe
        server = subprocess.Popen(
            [sys.executable, "-m", "backend", "serve", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", server, log)
        yield port, server.pid
    finally:
        stop(server)


@contextlib.contextmanager
def servers(
    url: str, logs: Path, *, redis_url: str, secret_key: str, channel_prefix: str | None = None
) -> Iterator[dict[str, tuple[int, int]]]:
    """Both servers, ready: {name: (port, pid)}. Always stopped on the way out."""
    environment = app_environment(url, redis_url=redis_url, secret_key=secret_key)
    if channel_prefix is not None:
        environment["REDIS_CHANNEL_PREFIX"] = channel_prefix
    ports = {"graphql": free_port(), "plain": free_port()}
    commands = {
        "graphql": [sys.executable, "-m", "backend", "serve", "--port", str(ports["graphql"])],
        "plain": [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.plain_endpoint:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(ports["plain"]),
            "--log-level",
            "warning",
        ],
    }
    started: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            with (logs / f"{name}.log").open("w") as log:  # a file, never an unread pipe
                started[name] = subprocess.Popen(
                    command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
                )
        for name, path in (("graphql", "/readyz"), ("plain", "/healthz")):
            wait_ready(f"http://127.0.0.1:{ports[name]}{path}", started[name], logs / f"{name}.log")
        yield {name: (ports[name], started[name].pid) for name in commands}
    finally:
        for server in started.values():
            stop(server)


def wait_ready(
    url: str | urllib.request.Request, server: subprocess.Popen[bytes], log: Path
) -> None:
    """Until ``url`` (or the request) answers 200: the server is up. Fails with the end of its
    log when it exits or takes over a minute."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            where = url if isinstance(url, str) else url.full_url
            raise RuntimeError(f"{where} did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def resident_mib(pid: int) -> float:
    """A process's resident memory (VmRSS) in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
