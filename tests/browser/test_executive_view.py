"""The executive's view, as exec (signed in through the sign-in page): the organisation's key
figures and the calibration view's verdict and evidence read, cell by cell, as the numbers the
API gives exec for the same days; its weekly history draws each week's observed / expected ratio
with its 95 % interval, in the band, the tooltip and the table."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import api
from tests.browser.harness import Dashboard
from tests.browser.reading import (
    chart,
    decimal,
    dots,
    integer,
    label,
    money,
    p_value,
    percent,
    points,
    range_days,
    rate_with_interval,
    table_rows,
    tip_under,
)

# Every browser test runs on one worker: the demo's server (`dashboard`) starts once, and
# Chromium once per module, not on each worker.
pytestmark = pytest.mark.xdist_group("browser")

EXECUTIVE = "exec@demo.example"


Expected = str | tuple[str, ...]


def key_figures(m: dict[str, Any]) -> dict[str, Expected]:
    """The rows of `KeyFigures` (frontend_stub/src/views/shared/metrics.tsx) for ``m``: a row's
    whole text, or (where the words around them are still being worded) the numbers it must
    show, in order."""
    r, d, f, c = m["responses"], m["dealImpact"], m["feedback"], m["cost"]
    replies = [rate_with_interval(r["replies"])]
    if r["maturingReplies"]:
        replies.append(f"{integer(r['maturingReplies'])} still maturing")
    if r["pendingReplies"]:
        replies.append(f"{integer(r['pendingReplies'])} waiting for a label")
    meetings = [f"{integer(r['meetingsBooked'])} booked; attended"]
    if r["attendance"]["rate"] is not None:
        meetings.append(rate_with_interval(r["attendance"]))
    rows: dict[str, Expected] = {"Actions": integer(m["interactions"])}
    rows["Response rate"] = tuple(replies)
    if v := r["versusHuman"]:
        rows["Response rate versus people"] = (
            f"{points(v['difference'])} (95 % CI {points(v['differenceLower'])} to "
            f"{points(v['differenceUpper'])})"
        )
    e = m["escalations"]
    return rows | {
        "Escalations": f"{integer(e['count'])}: {rate_with_interval(e['rate'])} of actions; "
        f"{integer(e['critical'])} critical actions",
        "Meetings": tuple(meetings),
        "Deal impact": f"{integer(d['progressed'])} progressed, {integer(d['won'])} won, "
        f"{integer(d['lost'])} lost; win rate {rate_with_interval(d['winRate'])}; "
        f"{money(d['amountWon']['total'])} won",
        "Feedback": f"{integer(f['count'])} ratings ({integer(f['prompted'])} prompted); mean "
        f"score {percent(f['meanScore'])}; thumbs up {rate_with_interval(f['thumbsUp'])}",
        "Cost": f"{money(c['total']['total'])} ({money(c['perInteraction'])} per action, "
        f"{integer(c['tokens'])} tokens)",
    }


def test_the_executive_sees_the_organisations_key_figures_as_the_api_gives_them(
    page: Page, dashboard: Dashboard
) -> None:
    for range_, days in ((None, 28), ("90d", 90)):
        got = dashboard.data(api.EXECUTIVE_FIGURES, range_days(days), as_=EXECUTIVE)
        d = got["executiveDashboard"]
        assert d["metrics"]["interactions"] > 0, d
        dashboard.open_as(page, EXECUTIVE, "executive", **({"range": range_} if range_ else {}))
        expect(page.locator(".subtitle").first).to_contain_text(f"{d['from']} to {d['to']}")
        expect(page.locator("table.figures")).to_have_count(1)
        shown = table_rows(page, "Key figures of the organisation")
        expected = key_figures(d["metrics"])
        assert shown.keys() == expected.keys(), (range_, shown)
        for row, want in expected.items():
            if isinstance(want, str):
                assert shown[row] == want, (range_, row, shown[row], want)
            else:
                pattern = ".*".join(re.escape(part) for part in want)
                assert re.match(pattern, shown[row]), (range_, row, shown[row], want)


def evidence(c: dict[str, Any]) -> dict[str, str]:
    """The rows of the table `The verdict's evidence` (calibration-view.tsx) for ``c``."""
    v, oe, hl, rc = c["verdict"], c["observedExpected"], c["hosmerLemeshow"], c["recalibration"]
    m = c["monitor"]
    monitor = {}
    if m is not None:
        fed = f", matured days up to {m['fedThrough']}" if m["fedThrough"] else ", none fed yet"
        monitor["Anytime-valid test"] = (
            f"e-value {decimal(m['eValue'], 1)} (anytime p = {p_value(m['anytimePValue'])}): "
            f"{'miscalibration confirmed' if m['confirmed'] else 'not confirmed (needs 20)'}; "
            f"{integer(m['outcomes'])} outcomes in order{fed}"
        )
    return {
        "Outcomes judged": integer(v["sampleSize"]),
        "Debiased calibration error": decimal(v["debiasedError"]),
        "Observed / expected successes": (
            f"{decimal(v['observedExpected'])} (95 % CI {decimal(v['observedExpectedLower'])} to "
            f"{decimal(v['observedExpectedUpper'])}); "
            f"{decimal(oe['observed'] if oe else None, 1)} observed, "
            f"{decimal(oe['expected'] if oe else None, 1)} expected; "
            f"{label(oe['direction'].lower()) if oe else ''}"
        ).strip(),
        **monitor,
        "Spiegelhalter's Z": f"{decimal(v['z'], 2)} (p = {p_value(v['pValue'])})",
        "Hosmer–Lemeshow": (
            f"χ² = {decimal(hl['statistic'], 2)}, df = {hl['degreesOfFreedom']}, "
            f"p = {p_value(hl['pValue'])}"
            if hl
            else "n/a"
        ),
        "Brier score / log loss": f"{decimal(c['brierScore'])} / {decimal(c['logLoss'])}",
        "ECE / MCE": f"{decimal(c['ece'])} / {decimal(c['mce'])}",
        "Recalibration map": (
            f"{label(rc['method'].lower())}, fitted on {integer(rc['sampleSize'])} outcomes"
        ),
    }


def test_the_calibration_verdict_and_its_evidence_are_the_apis(
    page: Page, dashboard: Dashboard
) -> None:
    variables = {"type": "email", **range_days(28)}
    c = dashboard.data(api.CALIBRATION, variables, as_=EXECUTIVE)["calibration"]
    assert c["verdict"]["sampleSize"] > 0, c
    dashboard.open_as(page, EXECUTIVE, "calibration", actionType="email")
    expect(page.locator("#view-title")).to_have_text("Calibration: email, the organisation")
    # The demo's last week of e-mails is still maturing: judged up to its last matured day.
    assert c["maturedUntil"] < c["to"] and c["maturingOutcomes"] > 0, c
    expect(page.locator(".subtitle").first).to_contain_text(
        f"Actions of {c['from']} to {c['to']}: {integer(c['sampleSize'])} outcomes of matured days "
        f"judged (days up to {c['maturedUntil']}; later ones are still maturing), "
        f"{integer(c['maturingOutcomes'])} decided early and not judged yet."
    )
    expect(
        page.get_by_role("link", name=f"Judge the same span ending {c['maturedUntil']}")
    ).to_be_visible()
    verdict = page.get_by_role("heading", name="Verdict: ")
    expect(verdict).to_have_text(f"Verdict: {label(c['verdict']['kind'].lower())}")
    acts = (
        "It calls for recalibration." if c["verdict"]["actionable"] else "No action is called for."
    )
    expect(verdict.locator("xpath=following-sibling::p[1]")).to_have_text(
        f"{c['verdict']['reason']} {acts}"
    )
    assert c["monitor"] is not None and c["monitor"]["fedThrough"] is not None, c
    assert table_rows(page, "The verdict's evidence") == evidence(c)


def test_the_calibration_history_draws_each_weeks_interval(
    page: Page, dashboard: Dashboard
) -> None:
    variables = {"type": "email", **range_days(28)}
    weeks = dashboard.data(api.CALIBRATION_HISTORY, variables, as_=EXECUTIVE)["calibrationHistory"]
    drawn = [w for w in weeks if w["observedExpected"] is not None]
    assert len(drawn) >= 2, weeks
    assert all(
        w["observedExpectedLower"] < w["observedExpected"] < w["observedExpectedUpper"]
        for w in drawn
    ), weeks
    dashboard.open_as(page, EXECUTIVE, "calibration", actionType="email")
    figure = chart(page, "Calibration history by week")
    # The band: one area path; a dot per week with a ratio.
    expect(figure.locator('svg g[aria-label="area"] path')).to_have_count(1)
    expect(dots(figure)).to_have_count(len(drawn))
    rows = table_rows(page, "Calibration history by week (data)")
    assert rows == {
        w["periodStart"]: " | ".join(
            [
                decimal(w["observedExpected"], 2),
                f"{decimal(w['observedExpectedLower'], 2)} to "
                f"{decimal(w['observedExpectedUpper'], 2)}",
                decimal(w["debiasedError"]),
                integer(w["sampleSize"]),
                label(w["verdict"].lower()),
            ]
        )
        for w in weeks
    }
    last = drawn[-1]
    tip = tip_under(page, dots(figure).last)
    assert f": {decimal(last['observedExpected'], 2)}" in tip, tip
    assert (
        f"95 % interval {decimal(last['observedExpectedLower'], 2)} to "
        f"{decimal(last['observedExpectedUpper'], 2)}"
    ) in tip, tip
    assert f"{integer(last['sampleSize'])} outcomes" in tip, tip
