"""Dashboard load in headless Chromium on the demo data: time to the first drawn chart of each
view, time to the network's quiet, and the bytes of HTML, JS/CSS and GraphQL data transferred.

The demo (``--scale``, default 1: the full demo) is seeded into a scratch SQLite database with
a fixed ``now`` (tests/browser/harness.py: the same clock as the browser tests), the real app
is served on 127.0.0.1 in its own process, and Debian's Chromium (/usr/bin/chromium) loads each
view in a fresh profile (cold cache), signed in as the view's person by a token in the address.

Per load, from the navigation's start (``performance.now()``, whose origin it is):

- **first chart**: the first moment a chart figure (``figure.chart``) holds a data mark, a
  dot, line, area, bar or rule drawn by Observable Plot (``harness.chart_marks``), seen by a
  MutationObserver installed before the page's scripts run;
- **quiet**: the end of the last HTTP response (Resource Timing) once the network has been idle
  for 500 ms (Playwright's ``networkidle``); the live WebSocket is not counted;
- **bytes**: the uncompressed bodies of every HTTP response (Playwright's ``response.body()``):
  the document, scripts and styles, and the POSTs to ``/graphql``.

The baseline, interleaved in the same run, is the dashboard's own shell with no sign-in and no
chart: ``/?view=service`` (the same HTML, JS and CSS, one small ``health`` query); its
``loadEventEnd`` is the cost of fetching and starting the bundle, and each view's first chart is
given as a ratio to it. Every run loads the baseline and each view once, in an order rotated
from run to run; the figures are the median and the range over ``--runs`` runs.

Run: ``.venv/bin/python bench/dashboard_load.py`` (about a minute; ``--runs 3`` quicker).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import Browser, Response, sync_playwright

from tests.browser.harness import (
    CHROMIUM,
    DEMO_NOW,
    Dashboard,
    chart_marks,
    demo_tokens,
    launch_chromium,
    seed_demo_database,
    serving,
)

# view -> the demo person who opens it (None: no sign-in)
VIEWS: dict[str, str | None] = {
    "service": None,
    "rep": "rep1@demo.example",
    "manager": "manager1@demo.example",
    "executive": "exec@demo.example",
    "calibration": "manager1@demo.example",
}
BASELINE = "service"
CHART_TIMEOUT_MS = 15_000
TARGET_MS = 1000.0
TARGET_BYTES = 1.5e6

FIRST_CHART_PROBE = """(() => {
  const marks = %s;
  const look = () => {
    if (window.__firstChart == null && document.querySelector(marks)) {
      window.__firstChart = performance.now();
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(look);
  observer.observe(document, { childList: true, subtree: true });
})();"""


@dataclass
class Load:
    view: str
    first_chart_ms: float | None
    load_event_ms: float
    quiet_ms: float
    bytes: dict[str, int] = field(default_factory=dict)  # html, js_css, graphql, other

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())


def kind_of(response: Response) -> str:
    request = response.request
    if request.resource_type == "document":
        return "html"
    if request.resource_type in ("script", "stylesheet"):
        return "js_css"
    if request.url.split("?")[0].endswith("/graphql"):
        return "graphql"
    return "other"


def load_view(browser: Browser, dashboard: Dashboard, view: str) -> Load:
    context = dashboard.new_context(browser)
    context.add_init_script(FIRST_CHART_PROBE % repr(chart_marks("figure.chart")))
    responses: list[Response] = []
    page = context.new_page()
    person = VIEWS[view]
    if person is not None:  # signed in first (the session cookie), not counted in the load
        dashboard.sign_in(page, person, land=True)  # lands on the person's own view
        page.wait_for_load_state("networkidle")
    page.on("response", lambda response: responses.append(response))
    page.goto(dashboard.url(view), wait_until="load")
    first_chart: float | None = None
    if view != BASELINE:
        try:
            page.wait_for_function("window.__firstChart != null", timeout=CHART_TIMEOUT_MS)
            first_chart = float(page.evaluate("window.__firstChart"))
        except Exception:  # no chart in this view (yet): reported as such
            first_chart = None
    page.wait_for_load_state("networkidle")
    timings: dict[str, Any] = page.evaluate(
        """() => ({
          load: performance.getEntriesByType("navigation")[0].loadEventEnd,
          quiet: Math.max(
            performance.getEntriesByType("navigation")[0].responseEnd,
            ...performance.getEntriesByType("resource").map((r) => r.responseEnd)),
        })"""
    )
    sizes: dict[str, int] = {"html": 0, "js_css": 0, "graphql": 0, "other": 0}
    for response in responses:
        if response.status in (101, 204, 304) or response.request.resource_type == "websocket":
            continue
        sizes[kind_of(response)] += len(response.body())
    context.close()
    return Load(view, first_chart, float(timings["load"]), float(timings["quiet"]), sizes)


def median_range(values: list[float]) -> str:
    if not values:
        return "no chart"
    return f"{statistics.median(values):.0f} ({min(values):.0f}–{max(values):.0f})"


def report(loads: list[Load], runs: int) -> str:
    baseline = [x.load_event_ms for x in loads if x.view == BASELINE]
    base = statistics.median(baseline)
    lines = [
        "| view | first chart ms | / baseline | quiet ms | HTML KB | JS+CSS KB | GraphQL KB "
        "| total KB | within 1 s, 1.5 MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for view in VIEWS:
        mine = [x for x in loads if x.view == view]
        charts = [x.first_chart_ms for x in mine if x.first_chart_ms is not None]
        quiet = [x.quiet_ms for x in mine]
        kb = {k: statistics.median(x.bytes[k] for x in mine) / 1000 for k in mine[0].bytes}
        total = statistics.median(x.total_bytes for x in mine)
        if view == BASELINE:
            first = f"(load {median_range(baseline)})"
            ratio = "1"
            verdict = f"{'yes' if total < TARGET_BYTES else 'NO'} (bytes)"
        else:
            first = median_range(charts) + ("" if len(charts) == runs else f" [{len(charts)}]")
            ratio = f"{statistics.median(charts) / base:.2f}x" if charts else "n/a"
            fast = bool(charts) and max(charts) < TARGET_MS
            verdict = f"{'yes' if fast else 'NO'}, {'yes' if total < TARGET_BYTES else 'NO'}"
        lines.append(
            f"| {view} | {first} | {ratio} | {median_range(quiet)} | {kb['html']:.1f} "
            f"| {kb['js_css']:.1f} | {kb['graphql']:.1f} | {total / 1000:.1f} | {verdict} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="the demo's size (1: as shipped)")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="dashboard-load-") as scratch:
        workdir = Path(scratch)
        print(f"seeding the demo (scale {args.scale:g}, ending {DEMO_NOW.date()}) ...", flush=True)
        url = seed_demo_database(workdir / "demo.db", scale=args.scale)
        tokens = demo_tokens(url)
        with (
            serving(url, workdir) as base_url,
            httpx2.Client(base_url=base_url, timeout=30) as http,
            sync_playwright() as playwright,
        ):
            dashboard = Dashboard(base_url, tokens, http)
            browser = launch_chromium(playwright)
            order = list(VIEWS)
            for view in order:  # warm-up: the server's first requests, Chromium's first start
                load_view(browser, dashboard, view)
            loads: list[Load] = []
            for run in range(args.runs):
                rotated = order[run % len(order) :] + order[: run % len(order)]
                loads.extend(load_view(browser, dashboard, view) for view in rotated)
            version = browser.version
            browser.close()
    load = os.getloadavg()
    print(
        f"\nChromium {version} headless, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f}; "
        f"{args.runs} runs, median (min–max)\n"
    )
    print(report(loads, args.runs))


if __name__ == "__main__":
    main()
