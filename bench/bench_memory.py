"""Resident memory of the server, against the same web stack without the application.

In a scratch directory it migrates a SQLite database (the embedded default) and seeds the demo
at a small scale, then starts, one after the other, each as its own process on 127.0.0.1:

- **app**: ``python -m backend serve`` (in-process broker and worker, as `serve --demo` runs);
- **bare stack**: uvicorn serving a one-route Starlette app (the web stack the app runs on,
  without any of its code): the floor a Python web server starts from;

and reads each one's VmRSS from /proc: after startup (idle, 2 s after it answers), and for the
app after one executive dashboard and one calibration report (the requests that load the
analytics engine). It also reports the resident memory of a bare ``python -c "import X"`` for
the heavy libraries the app used to import at startup (statsmodels.api, scipy.stats), as a
reference for what leaving them out saves.

Run: ``.venv/bin/python bench/bench_memory.py`` (about 30 seconds); with
``PYTHONMALLOC=malloc`` in front, as the Docker image runs, every process measured uses the C
allocator. Talks only to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import free_port, resident_mib, wait_ready

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BARE_APP = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
import uvicorn

async def healthz(request):
    return PlainTextResponse("ok")

uvicorn.run(Starlette(routes=[Route("/healthz", healthz)]), host="127.0.0.1", port={port},
            log_level="warning")
"""
REQUEST = """{ executiveDashboard { metrics { interactions roi { roi } calibration { brier } } }
  calibration(actionType: "email") { __typename } }"""


def post(port: int, token: str, query: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    answer = json.loads(urllib.request.urlopen(request, timeout=60).read())
    if answer.get("errors"):
        raise RuntimeError(f"request failed: {answer['errors']}")
    return dict(answer)


def measure(
    command: list[str], env: dict[str, str], port: int, token: str | None, log: Path
) -> list[float]:
    """[idle] or [idle, after the requests] in MiB."""
    with log.open("w") as output:  # a file, never an unread pipe
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", process, log)
        time.sleep(2)
        figures = [resident_mib(process.pid)]
        if token is not None:
            post(port, token, REQUEST)
            time.sleep(1)
            figures.append(resident_mib(process.pid))
        return figures
    finally:
        process.terminate()
        process.wait(timeout=30)


def import_rss(module: str) -> float:
    code = f"import {module}, re, pathlib; print(re.search(r'VmRSS:\\s+(\\d+)', "
    code += "pathlib.Path('/proc/self/status').read_text()).group(1))"
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as workdir:
        url = f"sqlite+aiosqlite:///{workdir}/db.sqlite"
        env = {**os.environ, "DATABASE_URL": url}
        env.pop("REDIS_URL", None)
        cli = [PYTHON, "-m", "backend"]
        subprocess.run([*cli, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
        seeded = subprocess.run(
            [*cli, "seed-demo", "--scale", "0.05"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        found = re.search(r"executive\s+\S+\s+(\S+)", seeded)
        if found is None:
            raise RuntimeError(f"no executive login in the seed's output:\n{seeded}")
        token = found.group(1)
        logs = Path(workdir)
        rows = []
        for _ in range(2):  # interleaved: app, bare, app, bare
            port = free_port()
            app = measure([*cli, "serve", "--port", str(port)], env, port, token, logs / "app.log")
            port = free_port()
            bare_app = [PYTHON, "-c", BARE_APP.format(port=port)]
            bare = measure(bare_app, env, port, None, logs / "bare.log")
            rows.append((app, bare[0]))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load}\n"
    )
    print("| run | app idle MiB | app after a dashboard MiB | bare stack idle MiB | app / bare |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for i, (app, bare) in enumerate(rows, 1):
        print(f"| {i} | {app[0]:.0f} | {app[1]:.0f} | {bare:.0f} | {app[1] / bare:.2f}x |")
    print("\n| a bare `python -c 'import X'` | MiB |\n| --- | ---: |")
    for module in ("sys", "numpy", "scipy.special", "scipy.stats", "statsmodels.api"):
        print(f"| {module} | {import_rss(module):.0f} |")
    idle = max(app[0] for app, _ in rows)
    allocator = os.environ.get("PYTHONMALLOC", "pymalloc (default)")
    verdict = "met" if idle <= 150 else "NOT met"
    print(f"\ntarget: app idle at most 150 MiB: {idle:.0f} MiB ({verdict}); allocator {allocator}")


if __name__ == "__main__":
    main()
