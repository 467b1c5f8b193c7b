"""The real app on a fixed clock, for the browser tests and the dashboard bench:
``python -m tests.browser.server --port N --at 2026-11-26T09:00:00+00:00``.

`python -m backend serve` runs on the wall clock; this builds the same app
(`backend.app.create_app`) with a `TestClock` that starts at ``--at``, and serves it with uvicorn.
Settings come from the environment, as for `serve` (DATABASE_URL, SECRET_KEY, ...).
"""

from __future__ import annotations

import argparse
import datetime as dt

import uvicorn

from backend.app import create_app
from backend.settings import load_settings
from tests.factories import TestClock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--at", type=dt.datetime.fromisoformat, required=True, help="ISO, aware")
    args = parser.parse_args()
    if args.at.tzinfo is None:
        parser.error(f"--at must carry its UTC offset, got {args.at.isoformat()}")
    settings = load_settings()
    app = create_app(settings, clock=TestClock(args.at))
    uvicorn.run(app, host=args.host, port=args.port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()
