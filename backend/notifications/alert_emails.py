"""The e-mail about one change of an alert: its subject, plain text and simple HTML."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from backend.alerts.models import Alert, AlertRule

CHANGE_WORDS = {
    "created": "fired",
    "acknowledged": "was acknowledged",
    "resolved": "was resolved",
    "snoozed": "was snoozed",
    "reminded": "is still firing and nobody acknowledged it",
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else "-"


def _window(evidence: dict[str, Any]) -> str:
    window = evidence.get("window")
    if isinstance(window, dict) and window.get("start") and window.get("end"):
        return f"{window['start']} to {window['end']}"
    return "-"


def alert_link(base_url: str, alert_id: int) -> str:
    return f"{base_url.rstrip('/')}/?alert={alert_id}"


def render_alert_email(
    alert: Alert,
    rule: AlertRule,
    change: str,
    *,
    acknowledged_by: str | None,
    base_url: str,
) -> RenderedEmail:
    """The e-mail telling of ``change`` to ``alert`` (as it is now)."""
    evidence = alert.evidence or {}
    reference = evidence.get("baseline", alert.expected)
    if rule.threshold is not None:
        reference_label, reference = "Threshold", rule.threshold
    else:
        reference_label = "Baseline"
    subject = (
        f"[{alert.severity.upper()}] {rule.name} {CHANGE_WORDS.get(change, change)}: {alert.metric}"
    )
    link = alert_link(base_url, alert.id)
    rows = [
        ("Rule", rule.name),
        ("Metric", alert.metric + (f" ({alert.action_type})" if alert.action_type else "")),
        ("Value", _number(evidence.get("value", alert.observed))),
        (reference_label, _number(reference)),
        ("Window", _window(evidence)),
        ("Severity", alert.severity),
        ("State", alert.state),
        ("Acknowledged by", acknowledged_by or "-"),
    ]
    text = "\n".join(
        [subject, "", alert.message, "", *(f"{k}: {v}" for k, v in rows), "", f"Open: {link}", ""]
    )
    cells = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    body = (
        "<!doctype html><html><body>"
        f"<h2>{html.escape(subject)}</h2><p>{html.escape(alert.message)}</p>"
        f"<table>{cells}</table>"
        f"<p><a href='{html.escape(link, quote=True)}'>Open the alert</a></p>"
        "</body></html>"
    )
    return RenderedEmail(subject=subject[:300], text=text, html=body)
