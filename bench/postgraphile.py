"""PostGraphile 4 for the benches: installed by the bench (never by the app) with npm into a cache
directory outside the repository, then run as one Node process on 127.0.0.1 over a database.

Also a counting TCP proxy in front of PostgreSQL: the number of round trips a server makes per
request, whatever its driver (each ``Sync`` or simple ``Query`` message the client sends ends
one round trip: the client then waits for the server's answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import shutil
import struct
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench.servers import free_port, stop, wait_ready

PACKAGE = "postgraphile@4"
CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sal-bench" / "postgraphile"
)


def install(cache: Path = CACHE) -> Path:
    """PostGraphile's CLI script, installed into ``cache`` with npm on first use."""
    cli = cache / "node_modules" / "postgraphile" / "cli.js"
    if not cli.exists():
        if shutil.which("npm") is None:
            raise RuntimeError("npm is needed to install PostGraphile (Node 20)")
        cache.mkdir(parents=True, exist_ok=True)
        if not (cache / "package.json").exists():
            (cache / "package.json").write_text(
                '{"name": "sal-bench-postgraphile", "private": true}'
            )
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", PACKAGE], cwd=cache, check=True
        )
    return cli


def version(cli: Path) -> str:
    manifest = json.loads((cli.parent / "package.json").read_text())
    return str(manifest["version"])


@contextlib.contextmanager
def postgraphile_server(cli: Path, postgres_url: str, log: Path) -> Iterator[tuple[int, int]]:
    """PostGraphile on ``postgres_url`` (a libpq URL), schema ``public``, production mode,
    ready: (port, pid). Always stopped on the way out."""
    port = free_port()
    command = [
        "node",
        str(cli),
        "--connection",
        postgres_url,
        "--schema",
        "public",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--disable-query-log",
    ]
    environment = {**os.environ, "NODE_ENV": "production"}
    with log.open("w") as output:  # a file, never an unread pipe
        server = subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        query = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=json.dumps({"query": "{ __typename }"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        wait_ready(query, server, log)
        yield port, server.pid
    finally:
        stop(server)


# -- round trips -------------------------------------------------------------------------------

_SSL_OR_GSS_REQUEST = {80877103, 80877104}  # followed by another untyped message


class RoundTrips:
    """A TCP proxy to PostgreSQL that counts the round trips of every connection through it.
    It runs its own event loop in a thread, so it keeps serving while the caller blocks (e.g.
    waiting for a server it starts to come up)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5432) -> None:
        self.upstream = (host, port)
        self.count = 0

    @contextlib.contextmanager
    def running(self) -> Iterator[int]:
        """Listen on a free local port (yielded) until the block ends."""
        loop = asyncio.new_event_loop()
        listening: queue.Queue[asyncio.Server] = queue.Queue()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            listening.put(loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1")))
            loop.run_forever()

        thread = threading.Thread(target=serve, name="round-trips", daemon=True)
        thread.start()
        server = listening.get(timeout=10)
        try:
            yield int(server.sockets[0].getsockname()[1])
        finally:
            loop.call_soon_threadsafe(server.close)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        back = asyncio.create_task(_pump(up_reader, writer))
        try:
            await self._client_to_server(reader, up_writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            up_writer.close()
            back.cancel()
            writer.close()

    async def _client_to_server(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        typed = False  # the startup phase's messages carry no type byte
        while True:
            if typed:
                kind = await reader.readexactly(1)
                header = await reader.readexactly(4)
                (length,) = struct.unpack("!i", header)
                body = await reader.readexactly(length - 4)
                if kind in (b"S", b"Q"):
                    self.count += 1
                writer.write(kind + header + body)
            else:
                header = await reader.readexactly(4)
                (length,) = struct.unpack("!i", header)
                body = await reader.readexactly(length - 4)
                (code,) = struct.unpack("!i", body[:4])
                typed = code not in _SSL_OR_GSS_REQUEST
                writer.write(header + body)
            await writer.drain()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()
