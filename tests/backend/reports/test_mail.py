"""The report e-mail as built (without a server): its MIME tree, inline charts by Content-ID,
list headers on one line each, the same bytes parsed back."""

from __future__ import annotations

import datetime as dt
import email
from email.policy import default

from backend.reports.mail import email_bytes, report_email
from backend.reports.models import ReportKind
from backend.reports.rendered import Chart, Period, RenderedReport
from tests.backend.reports.conftest import PNG

LINK = "https://sales.example/reports/unsubscribe?token=" + "1.2." + "x" * 43


def report() -> RenderedReport:
    return RenderedReport(
        kind=ReportKind.EXECUTIVE_WEEKLY,
        period=Period(dt.date(2026, 11, 23), dt.date(2026, 11, 30)),
        subject="Weekly report: 23-29 Nov",
        html="<p>Ünïcode</p><img src='cid:trend@r'><img src='cid:calib@r'>",
        text="Ünïcode\n",
        charts=(Chart("trend@r", "Trend", "a", PNG), Chart("calib@r", "Calibration", "b", PNG)),
    )


def test_the_mime_tree_and_headers() -> None:
    message = report_email(
        report(),
        sender="Sales Agent <reports@sales.example>",
        to="exec@north.example",
        message_id="report-run-7",
        unsubscribe_url=LINK,
        now=dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC),
    )
    raw = email_bytes(message)
    assert f"List-Unsubscribe: <{LINK}>\r\n".encode() in raw  # one line, never encoded
    parsed = email.message_from_bytes(raw, policy=default)
    assert parsed.get_content_type() == "multipart/alternative"
    plain, related = parsed.get_payload()  # type: ignore[misc]
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().replace("\r\n", "\n") == "Ünïcode\n"
    assert related.get_content_type() == "multipart/related"
    html, *images = related.get_payload()
    assert html.get_content_type() == "text/html" and "cid:trend@r" in html.get_content()
    assert [(i["Content-ID"], i.get_content_disposition()) for i in images] == [
        ("<trend@r>", "inline"),
        ("<calib@r>", "inline"),
    ]
    assert all(i.get_content() == PNG for i in images)
    assert parsed["Message-ID"] == "<report-run-7@sales.example>"
    assert parsed["Date"] == "Mon, 30 Nov 2026 08:00:00 +0000"
    assert parsed["List-Id"] == "Weekly executive report <executive-weekly.reports.sales.example>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
