"""Block Kit for alerts: the message showing one alert as it stands (severity and rule, message,
evidence, scope, state, and while it is open the Acknowledge, Snooze and Open controls) and the
reminder replied in its thread. Pure functions from plain values to Slack's JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.slack.blocks import escape

# The ids Slack sends back in block_actions payloads.
ALERT_ACTIONS_BLOCK = "alert"
ALERT_ACKNOWLEDGE = "alert_acknowledge"  # value: the alert's id
ALERT_SNOOZE = "alert_snooze"  # the chosen option's value: "<alert id>:<choice>"
ALERT_OPEN = "alert_open"  # a link button: Slack sends the click, nothing to do
# The snooze choices: the option's key, its label, how long.
SNOOZE_CHOICES: dict[str, tuple[str, dt.timedelta]] = {
    "1h": ("1 hour", dt.timedelta(hours=1)),
    "4h": ("4 hours", dt.timedelta(hours=4)),
    "1d": ("1 day", dt.timedelta(days=1)),
}
SEVERITY_EMOJI = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
HEADER_MAX = 150  # Slack's limit on a header's text


@dataclass(frozen=True)
class Person:
    """Someone named on the message: mentioned when they have a Slack id."""

    name: str
    slack_user_id: str | None = None


@dataclass(frozen=True)
class AlertView:
    """What the message shows of an alert, as it is now."""

    alert_id: int
    rule_name: str
    severity: str
    state: str  # firing, acknowledged, resolved
    message: str
    metric: str
    action_type: str | None
    value: float | None
    reference_label: str  # "Threshold" or "Baseline"
    reference: float | None
    window: str | None  # "2026-10-19 to 2026-10-25"
    scope: str  # "Organisation", "Team alpha", "Agent agent_rep_a1 (team alpha)"
    link: str
    fired_at: dt.datetime
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: Person | None = None
    snoozed_until: dt.datetime | None = None
    snoozed_by: Person | None = None
    resolved_at: dt.datetime | None = None
    resolved_by: Person | None = None  # None with resolved_at: resolved by itself
    reminders: int = 0


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def slack_time(at: dt.datetime) -> str:
    """A time each reader sees in their own zone (UTC where Slack cannot format it)."""
    fallback = at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def person_text(person: Person | None) -> str:
    if person is None:
        return "someone"
    return f"<@{person.slack_user_id}>" if person.slack_user_id else escape(person.name)


def alert_heading(view: AlertView) -> str:
    emoji = SEVERITY_EMOJI.get(view.severity, "⚪")
    return f"{emoji} {view.severity.upper()} · {view.rule_name}"[:HEADER_MAX]


def state_line(view: AlertView, *, now: dt.datetime) -> str:
    """Where the alert stands, who moved it and when; a snooze while it lasts."""
    if view.state == "resolved":
        at = slack_time(view.resolved_at or view.fired_at)
        who = (
            f"by {person_text(view.resolved_by)}"
            if view.resolved_by is not None
            else "by itself (the condition cleared)"
        )
        return f"✅ *Resolved* {at} {who} · <{view.link}|Open in the dashboard>"
    if view.state == "acknowledged":
        at = slack_time(view.acknowledged_at or view.fired_at)
        line = f"👀 *Acknowledged* by {person_text(view.acknowledged_by)} {at}"
    else:
        line = f"🚨 *Firing* since {slack_time(view.fired_at)}"
        if view.reminders:
            line += f" · not acknowledged, reminded {view.reminders}×"
    if view.snoozed_until is not None and view.snoozed_until > now:
        line += (
            f"\n💤 Snoozed until {slack_time(view.snoozed_until)} by {person_text(view.snoozed_by)}"
        )
    return line


def alert_text(view: AlertView) -> str:
    """The notification text (and the fallback where blocks are not shown)."""
    state = "" if view.state == "firing" else f" ({view.state})"
    return f"[{view.severity.upper()}] {view.rule_name}{state}: {view.message}"[:300]


def _controls(view: AlertView) -> list[dict[str, Any]]:
    controls: list[dict[str, Any]] = []
    if view.state == "firing":
        controls.append(
            {
                "type": "button",
                "action_id": ALERT_ACKNOWLEDGE,
                "text": _plain("Acknowledge"),
                "style": "primary",
                "value": str(view.alert_id),
            }
        )
    controls += [
        {
            "type": "static_select",
            "action_id": ALERT_SNOOZE,
            "placeholder": _plain("Snooze"),
            "options": [
                {"text": _plain(label), "value": f"{view.alert_id}:{key}"}
                for key, (label, _) in SNOOZE_CHOICES.items()
            ],
        },
        {
            "type": "button",
            "action_id": ALERT_OPEN,
            "text": _plain("Open"),
            "url": view.link,
        },
    ]
    return controls


def alert_blocks(view: AlertView, *, now: dt.datetime) -> list[dict[str, Any]]:
    """The alert's message as it stands at ``now``; once resolved, without controls."""
    metric = view.metric + (f" ({view.action_type})" if view.action_type else "")
    fields = [
        ("Value", _number(view.value)),
        (view.reference_label, _number(view.reference)),
        ("Window", view.window or "-"),
        ("Scope", view.scope),
        ("Metric", metric),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(alert_heading(view))},
        {"type": "section", "text": _mrkdwn(escape(view.message[:2900]))},
        {
            "type": "section",
            "fields": [_mrkdwn(f"*{label}*\n{escape(value)}") for label, value in fields],
        },
        {"type": "context", "elements": [_mrkdwn(state_line(view, now=now))]},
    ]
    if view.state != "resolved":
        blocks.append(
            {"type": "actions", "block_id": ALERT_ACTIONS_BLOCK, "elements": _controls(view)}
        )
    return blocks


def reminder_text(minutes: int, mentions: Sequence[str]) -> str:
    """The reply in the alert's thread when nobody acknowledged it in time."""
    who = " ".join(f"<@{m}>" for m in mentions)
    return f"⏰ Still firing, not acknowledged after {minutes} minutes. {who}".rstrip()
