"""A report as an e-mail (standard library ``email``): plain text and HTML alternatives, the
HTML's charts as inline images by Content-ID (never loaded from a URL), the list headers and
the RFC 8058 one-click unsubscribe.

    multipart/alternative
      text/plain
      multipart/related
        text/html             (<img src="cid:...">)
        image/png             (Content-ID, Content-Disposition: inline), one per chart
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from backend.reports.rendered import RenderedReport

# Long headers (the unsubscribe link has no spaces to fold at) stay one line up to RFC 5322's
# 998 characters: folded, the library would encode the URL as encoded-words no client reads.
POLICY = SMTP.clone(max_line_length=998)

LIST_NAMES = {
    "manager_daily": "Daily team report",
    "executive_weekly": "Weekly executive report",
    "rep_weekly": "Weekly agent digest",
}


def sender_domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def list_id(kind: str, sender: str) -> str:
    """``List-Id`` (RFC 2919): one list per kind of report, under the sender's domain."""
    name = LIST_NAMES.get(kind, "Report")
    return f"{name} <{kind.replace('_', '-')}.reports.{sender_domain(sender)}>"


def report_email(
    report: RenderedReport,
    *,
    sender: str,
    to: str,
    message_id: str,
    unsubscribe_url: str | None,
    now: dt.datetime,
) -> EmailMessage:
    """The e-mail of ``report`` to ``to``. ``message_id`` (without brackets' domain) stays the
    same for every attempt, so a receiving server can tell a retry from a new message."""
    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = report.subject
    message["Date"] = format_datetime(now.astimezone(dt.UTC))
    message["Message-ID"] = f"<{message_id}@{sender_domain(sender)}>"
    message["List-Id"] = list_id(report.kind.value, sender)
    if unsubscribe_url is not None:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(report.text)
    message.add_alternative(report.html, subtype="html")
    html_part = message.get_payload()[1]  # type: ignore[index]
    assert isinstance(html_part, EmailMessage)
    for chart in report.charts:
        html_part.add_related(
            chart.png,
            maintype="image",
            subtype="png",
            cid=f"<{chart.cid}>",
            disposition="inline",
            filename=f"{chart.cid.split('@')[0]}.png",
        )
    return message


def email_bytes(message: EmailMessage) -> bytes:
    """The message as sent over SMTP (CRLF line ends), kept so a retry sends the same bytes."""
    return message.as_bytes(policy=POLICY)
