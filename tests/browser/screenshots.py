"""The dashboard's screenshots in docs/images/: one PNG per view, 1280 px wide, on the full demo
with its fixed clock (so they change only when the app or the demo does).

Run: ``.venv/bin/python -m tests.browser.screenshots`` (about 40 s); then look at each.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

import httpx2
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from tests.browser.harness import (
    ROOT,
    Dashboard,
    chart_marks,
    demo_tokens,
    launch_chromium,
    seed_demo_database,
    serving,
)

# view -> who looks at it (None: nobody signed in)
SHOTS: dict[str, str | None] = {
    "rep": "rep1@demo.example",
    "manager": "manager1@demo.example",
    "executive": "exec@demo.example",
    "calibration": "manager1@demo.example",
    "reviews": "manager1@demo.example",
    "policies": "manager1@demo.example",
    "service": None,
}
WIDTH, HEIGHT = 1280, 1800  # the top of each view: its heading, figures and first charts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("views", nargs="*", default=list(SHOTS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dashboard-shots-") as scratch:
        url = seed_demo_database(Path(scratch) / "demo.db", scale=1.0)
        tokens = demo_tokens(url)
        with (
            serving(url, Path(scratch)) as base_url,
            httpx2.Client(base_url=base_url, timeout=30) as http,
            sync_playwright() as playwright,
        ):
            dashboard = Dashboard(base_url, tokens, http)
            browser = launch_chromium(playwright)
            for view in args.views:
                context = dashboard.new_context(browser, width=WIDTH, height=HEIGHT)
                page = context.new_page()
                person = SHOTS[view]
                if person is None:
                    page.goto(dashboard.url(view))
                    expect(page.locator("main")).not_to_contain_text("Loading")
                else:
                    dashboard.open_as(page, person, view)
                    expect(page.locator("#view-title")).to_be_visible()
                    if page.locator("figure.chart").count():
                        expect(page.locator(chart_marks("figure.chart")).first).to_be_attached()
                page.wait_for_load_state("networkidle")
                page.mouse.move(0, 0)  # no tooltip
                path = args.out / f"dashboard-{view}.png"
                shot = Image.open(io.BytesIO(page.screenshot()))  # the viewport: the view's top
                # 256 colours are plenty for a flat UI and keep each file a third of the size
                shot.quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
                print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1000:.0f} KB")
                context.close()
            browser.close()


if __name__ == "__main__":
    main()
