"""Card JSON for the Gmail add-on (Google Workspace add-on cards, HTTP runtime): the agent
action's card with 👍 / 👎 and a comment field, the short cards, and the response envelopes.

Trigger endpoints (homepage, contextual) answer ``{"action": {"navigations": [{"pushCard": …}]}}``;
action callbacks answer ``{"renderActions": {"action": {…, "notification": {"text": …}}}}``.
Everything shown that came from elsewhere (subjects, comments, names) is HTML-escaped: card text
accepts a little HTML.
"""

from __future__ import annotations

import datetime as dt
import html
import zoneinfo
from dataclasses import dataclass
from typing import Any

from backend.feedback.models import FeedbackTarget
from backend.feedback.service import Thumb
from backend.gmail.service import ActionSummary, OpenedMessage, OutcomeSoFar

Card = dict[str, Any]
COMMENT_INPUT = "comment"  # the text input's name: commonEventObject.formInputs.comment
TITLE = "Sales Agent feedback"
THUMB_TEXT = {Thumb.UP: "👍", Thumb.DOWN: "👎"}
STATUS_TEXT = {"open": "waiting", "resolved": "resolved", "needs_label": "needs a person's label"}


@dataclass(frozen=True)
class ActionUrls:
    """The endpoints the card's buttons call (full URLs: each is also its token's audience)."""

    rate: str
    comment: str


def zone_of(event: dict[str, Any]) -> dt.tzinfo:
    """The Gmail user's time zone (`commonEventObject.timeZone.id`), else UTC."""
    common = event.get("commonEventObject")
    zone = common.get("timeZone") if isinstance(common, dict) else None
    name = zone.get("id") if isinstance(zone, dict) else None
    if isinstance(name, str) and name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return dt.UTC


def _when(value: dt.datetime | None, zone: dt.tzinfo) -> str:
    return value.astimezone(zone).strftime("%d %b %Y, %H:%M") if value else "—"


def _text(label: str, text: str, *, bottom: str | None = None) -> dict[str, Any]:
    widget: dict[str, Any] = {"topLabel": html.escape(label), "text": text, "wrapText": True}
    if bottom:
        widget["bottomLabel"] = bottom
    return {"decoratedText": widget}


def _paragraph(text: str) -> dict[str, Any]:
    return {"textParagraph": {"text": text}}


def _button(text: str, url: str, parameters: dict[str, str]) -> dict[str, Any]:
    listed = [{"key": k, "value": v} for k, v in parameters.items()]
    return {"text": text, "onClick": {"action": {"function": url, "parameters": listed}}}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _outcome_text(outcome: OutcomeSoFar, zone: dt.tzinfo) -> str:
    if outcome.status == "resolved":
        level = html.escape(outcome.level or "resolved")
        return f"<b>{level}</b> ({_when(outcome.resolved_at, zone)})"
    status = STATUS_TEXT.get(outcome.status, outcome.status)
    if outcome.status == "open" and outcome.due_at is not None:
        return f"{status} until {_when(outcome.due_at, zone)}"
    return status


def _humanize(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _your_rating(summary: ActionSummary) -> str:
    yours = summary.yours
    if yours is None:
        return "How did the agent do? Your rating teaches it."
    if summary.target.kind is FeedbackTarget.MESSAGE or yours.thumb is not None:
        shown = THUMB_TEXT[yours.thumb] if yours.thumb else str(yours.rating)
    else:
        shown = f"{yours.rating}/5"
    text = f"Your rating: <b>{shown}</b>"
    if yours.comment:
        text += f"<br>Your comment: {html.escape(yours.comment)}"
    return text


def action_card(
    summary: ActionSummary, *, opened: OpenedMessage, urls: ActionUrls, zone: dt.tzinfo
) -> Card:
    """The agent action behind the opened e-mail: what it did, how sure it was, what came of it
    so far, the viewer's rating, 👍 / 👎 and an optional comment."""
    ids = {"messageId": opened.message_id or "", "threadId": opened.thread_id or ""}
    ids = {k: v for k, v in ids.items() if v}
    kind = _humanize(summary.action_type) + (" (critical)" if summary.is_critical else "")
    what = [_text("Action", html.escape(kind), bottom=_when(summary.occurred_at, zone))]
    if summary.subject:
        what.append(_text("Subject", html.escape(summary.subject)))
    what += [
        _text(
            "Confidence",
            f"{_percent(summary.confidence)} stated",
            bottom=f"calibrated: {_percent(summary.calibrated_confidence)}",
        ),
        _text("Decision", html.escape(summary.decision or "none recorded")),
    ]
    outcomes = [
        _text(_humanize(o.outcome_type), _outcome_text(o, zone)) for o in summary.outcomes
    ] or [_paragraph("No outcome is tracked for this action.")]
    buttons = [
        _button("👍 Good", urls.rate, {**ids, "thumb": Thumb.UP.value}),
        _button("👎 Poor", urls.rate, {**ids, "thumb": Thumb.DOWN.value}),
    ]
    if summary.yours is not None:
        buttons.append(_button("Save comment", urls.comment, ids))
    comment_input: dict[str, Any] = {
        "name": COMMENT_INPUT,
        "label": "Comment (optional)",
        "type": "MULTIPLE_LINE",
    }
    if summary.yours is not None and summary.yours.comment:
        comment_input["value"] = summary.yours.comment
    rating = [_paragraph(_your_rating(summary))]
    if summary.target.kind is FeedbackTarget.ACTION:
        rating.append(_paragraph("<i>Rated as a decision: 👍 counts 5 of 5, 👎 counts 1.</i>"))
    rating += [{"textInput": comment_input}, {"buttonList": {"buttons": buttons}}]
    return {
        "header": {"title": TITLE, "subtitle": html.escape(summary.agent_name)},
        "sections": [
            {"header": "What the agent did", "widgets": what},
            {"header": "Outcome so far", "widgets": outcomes},
            {"header": "Your feedback", "widgets": rating},
        ],
    }


def not_the_agents_card() -> Card:
    return {
        "header": {"title": TITLE},
        "sections": [
            {
                "widgets": [
                    _paragraph(
                        "This e-mail is not one the Sales Agent sent (or not one of an agent you "
                        "follow), so there is nothing to rate here."
                    )
                ]
            }
        ],
    }


def link_account_card(email: str) -> Card:
    return {
        "header": {"title": TITLE},
        "sections": [
            {
                "widgets": [
                    _paragraph(
                        f"Your Google account <b>{html.escape(email)}</b> is not linked to a Sales "
                        "Agent user. Ask your administrator to add a user with this e-mail "
                        "address; then open the e-mail again to rate it."
                    )
                ]
            }
        ],
    }


def homepage_card(name: str) -> Card:
    return {
        "header": {"title": TITLE, "subtitle": html.escape(name)},
        "sections": [
            {
                "widgets": [
                    _paragraph(
                        "Open an e-mail the agent sent to see what it did, how sure it was and "
                        "what came of it, and rate it with 👍 or 👎. Your rating goes straight "
                        "into the agent's learning loop."
                    )
                ]
            }
        ],
    }


def push(card: Card) -> dict[str, Any]:
    """The answer to a homepage or contextual trigger: show ``card``."""
    return {"action": {"navigations": [{"pushCard": card}]}}


def update(card: Card, notification: str) -> dict[str, Any]:
    """The answer to a button: replace the card and say what happened."""
    action = {"navigations": [{"updateCard": card}], "notification": {"text": notification}}
    return {"renderActions": {"action": action}}


def notify(notification: str) -> dict[str, Any]:
    """The answer to a button that changed nothing: the card stays, with a notification."""
    return {"renderActions": {"action": {"notification": {"text": notification}}}}
