"""Reading what a page draws, as a person would: a chart by its caption, its data marks, the
tooltip under the pointer, and numbers formatted the way the dashboard formats them
(`frontend_stub/src/charts/format.ts`)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.browser.harness import CLOCK_AT, chart_marks

TODAY = CLOCK_AT.date()
MINUS = "\u2212"  # the sign `points` writes before a negative difference


def range_days(days: int) -> dict[str, str]:
    """`from`/`to` of the last ``days`` days ending today, as the app's `rangeDays` gives them."""
    return {"from": (TODAY - dt.timedelta(days=days - 1)).isoformat(), "to": TODAY.isoformat()}


def percent(value: float | None) -> str:
    """As `percent` in format.ts: ``toFixed(1)`` rounds the exact binary value, halves up."""
    if value is None:
        return "n/a"
    rounded = Decimal(value * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{rounded} %"


def chart(page: Page, title: str) -> Locator:
    """The chart figure captioned ``title``, once it has drawn data marks (not just a frame)."""
    figure = page.locator("figure.chart").filter(has=page.locator(".chart-title", has_text=title))
    expect(figure.locator(chart_marks()).first).to_be_attached()
    return figure


def dots(figure: Locator) -> Locator:
    """The dots of a chart's dot mark (one per point that has a value)."""
    return figure.locator('svg g[aria-label="dot"] > circle')


def rules(figure: Locator) -> Locator:
    """The lines of a chart's rule marks (the pointer's own rule is empty until hovered)."""
    return figure.locator('svg g[aria-label="rule"] > line')


def tip_under(page: Page, mark: Locator) -> str:
    """The tooltip's text with the pointer on ``mark`` (Plot draws it as one `tspan` a line)."""
    mark.scroll_into_view_if_needed()
    box = mark.bounding_box()
    assert box is not None, "the mark is not drawn"
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = mark.locator('xpath=ancestor::*[local-name()="svg"][1]//*[@aria-label="tip"]')
    expect(tip.locator("tspan").first).to_be_attached()
    lines = tip.locator("tspan").all_text_contents()
    return "\n".join(line.replace("\u200b", "").strip() for line in lines)  # Plot's ZWSP


def integer(value: float | None) -> str:
    """As `integer` in format.ts (`Math.round(value).toLocaleString("en")`)."""
    if value is None:
        return "n/a"
    return f"{int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP)):,}"


def rate_with_interval(estimate: dict[str, Any] | None) -> str:
    """As `rateWithInterval` in format.ts: "23.4 % (95 % CI 20.1 % to 26.9 %; n = 312)"."""
    if not estimate or estimate.get("rate") is None:
        count = (estimate or {}).get("count")
        return "n/a" + (f" (n = {integer(count)})" if count is not None else "")
    return (
        f"{percent(estimate['rate'])} (95 % CI {percent(estimate['lower'])} to "
        f"{percent(estimate['upper'])}; n = {integer(estimate['count'])})"
    )


def key_figure(page: Page, caption: str, row: str) -> Locator:
    """The value cell of row ``row`` of the key-figures table captioned ``caption``."""
    table = page.locator("table.figures").filter(has=page.locator("caption", has_text=caption))
    header = page.locator("th", has_text=re.compile(f"^{re.escape(row)}$"))
    return table.locator("tr").filter(has=header).locator("td")


def _rounded(value: float, digits: int) -> Decimal:
    """``value`` rounded as JavaScript's ``toFixed(digits)``: its exact binary value, halves up."""
    return Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def decimal(value: float | None, digits: int = 3) -> str:
    """As `decimal` in format.ts (``toFixed(digits)``)."""
    return "n/a" if value is None else f"{_rounded(value, digits):.{digits}f}"


def points(value: float | None) -> str:
    """As `points` in format.ts: a signed difference of rates in percentage points."""
    if value is None:
        return "n/a"
    sign = "+" if value >= 0 else MINUS
    return f"{sign}{_rounded(abs(value) * 100, 1)} pp"


def p_value(value: float | None) -> str:
    """As `pValue` in format.ts: below 0.001 in scientific notation (``toExponential(1)``)."""
    if value is None:
        return "n/a"
    if value >= 0.001:
        return decimal(value)
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(value: dict[str, Any] | None) -> str:
    """As `money` in format.ts (English, cents only below 100)."""
    if value is None:
        return "n/a"
    amount = value["amount"]
    digits = 2 if abs(amount) < 100 else 0
    sign = "-" if amount < 0 else ""
    return f"{sign}{CURRENCY_SYMBOLS[value['currency']]}{_rounded(abs(amount), digits):,.{digits}f}"


def label(value: str | None) -> str:
    """As `label` in format.ts: ``follow_up`` as "follow up"."""
    return (value or "all").replace("_", " ")


def table_rows(page: Page, caption: str) -> dict[str, str]:
    """The rows of the table captioned ``caption`` (exactly): row header's text -> the rest's."""
    table = page.locator("table").filter(
        has=page.locator("caption", has_text=re.compile(f"^{re.escape(caption)}$"))
    )
    expect(table).to_have_count(1)
    rows: dict[str, str] = table.locator("tbody tr").evaluate_all(
        """rows => Object.fromEntries(rows.map(r => [
          r.querySelector("th").textContent.trim(),
          [...r.querySelectorAll("td")].map(d => d.textContent.trim()).join(" | ")]))"""
    )
    return rows


def rate_shown(estimate: dict[str, Any] | None) -> re.Pattern[str]:
    """What a cell showing ``estimate`` starts with: the rate with its interval and n, then
    perhaps what it does not count yet; without a rate, "n/a" or why there is none yet
    ("no decided reply yet; ...")."""
    if not estimate or estimate.get("rate") is None:
        return re.compile(r"^\s*(n/a|no decided \w+ yet)")
    return re.compile(rf"^\s*{re.escape(rate_with_interval(estimate))}(\s|;|$)")
