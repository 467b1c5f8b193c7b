"""Block Kit for feedback: the message mirrored to the rep (summary, link, rating controls, who
rated what) and the comment modal. Pure functions from plain values to Slack's JSON."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.feedback.models import COMMENT_MAX_LENGTH

# The ids Slack sends back in block_actions and view_submission payloads.
ACTIONS_BLOCK = "feedback"
THUMB_UP = "feedback_up"
THUMB_DOWN = "feedback_down"
DECISION_RATING = "feedback_rating"
ADD_COMMENT = "feedback_comment"
MODAL_CALLBACK = "feedback_comment"
MODAL_RATING_BLOCK = "rating"
MODAL_COMMENT_BLOCK = "comment"

THUMB_EMOJI = {1: "👍", 0: "👎"}
DECISION_LABELS = {1: "Wrong call", 2: "Poor", 3: "Acceptable", 4: "Good", 5: "Exactly right"}
MAX_RATERS_SHOWN = 20


@dataclass(frozen=True)
class Rater:
    """One person's current rating of the target, as the message shows it."""

    name: str
    slack_user_id: str | None
    rating: int


@dataclass(frozen=True)
class PromptView:
    """Where a feedback prompt stands, as its message shows it."""

    state: str  # open, answered, expired
    critical: bool  # asked because the action was critical (else: suggested for review)
    expires_at: dt.datetime
    answered_channel: str | None = None


@dataclass(frozen=True)
class PostContent:
    summary: str  # one line, plain text: escaped here
    link: str | None
    rated_by_thumb: bool  # a message (👍/👎); otherwise a decision rated 1..5
    prompt: PromptView | None = None
    raters: Sequence[Rater] = ()


def escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str, *, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": emoji}


def _option(value: int) -> dict[str, Any]:
    return {"text": _plain(f"{value} · {DECISION_LABELS[value]}"), "value": str(value)}


def _thumb_option(value: str) -> dict[str, Any]:
    return {"text": _plain("👍 Good" if value == "up" else "👎 Not good"), "value": value}


def rating_text(rating: int, *, thumb: bool) -> str:
    return THUMB_EMOJI.get(rating, "?") if thumb else f"{rating}/5"


def raters_text(raters: Sequence[Rater], *, thumb: bool) -> str:
    if not raters:
        return "No ratings yet."
    shown = [
        f"{f'<@{r.slack_user_id}>' if r.slack_user_id else escape(r.name)} "
        f"{rating_text(r.rating, thumb=thumb)}"
        for r in raters[:MAX_RATERS_SHOWN]
    ]
    more = len(raters) - len(shown)
    return "Rated: " + " · ".join(shown) + (f" · and {more} more" if more > 0 else "")


def _controls(thumb: bool) -> list[dict[str, Any]]:
    if thumb:
        controls: list[dict[str, Any]] = [
            {"type": "button", "action_id": THUMB_UP, "text": _plain("👍"), "value": "up"},
            {"type": "button", "action_id": THUMB_DOWN, "text": _plain("👎"), "value": "down"},
        ]
    else:
        controls = [
            {
                "type": "static_select",
                "action_id": DECISION_RATING,
                "placeholder": _plain("Rate this decision"),
                "options": [_option(value) for value in range(1, 6)],
            }
        ]
    controls.append(
        {
            "type": "button",
            "action_id": ADD_COMMENT,
            "text": _plain("Add comment"),
            "value": "comment",
        }
    )
    return controls


def post_text(content: PostContent) -> str:
    """The notification text (and the fallback where blocks are not shown)."""
    return ("Feedback requested: " if content.prompt else "") + content.summary[:300]


def _until(prompt: PromptView) -> str:
    return prompt.expires_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def prompt_heading(prompt: PromptView) -> str:
    """The first line of a prompt's message: what is asked, or how it ended."""
    what = "this critical action" if prompt.critical else "this action (suggested for review)"
    if prompt.state == "answered":
        via = f" via {prompt.answered_channel}" if prompt.answered_channel else ""
        return f"✅ *Thanks, answered*{via}. You can still change your rating of {what}:"
    if prompt.state == "expired":
        return f"⌛ *This request expired.* Your rating of {what} is still welcome:"
    return f"*Your feedback is requested* on {what} (until {_until(prompt)}):"


def reminder_text(prompt: PromptView, summary: str) -> str:
    return f"Reminder: your rating of this is still wanted until {_until(prompt)}. {summary[:300]}"


def post_blocks(content: PostContent) -> list[dict[str, Any]]:
    summary = escape(content.summary[:2000])
    if content.prompt is not None:
        summary = f"{prompt_heading(content.prompt)}\n{summary}"
    if content.link:
        summary += f"\n<{content.link}|Open in the dashboard>"
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
        {
            "type": "actions",
            "block_id": ACTIONS_BLOCK,
            "elements": _controls(content.rated_by_thumb),
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": raters_text(content.raters, thumb=content.rated_by_thumb),
                }
            ],
        },
    ]


def comment_modal(
    *,
    summary: str,
    rated_by_thumb: bool,
    metadata: dict[str, Any],
    rating: int | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """The "Add comment" modal: a rating (required; the person's current one preselected) and
    an optional comment. ``metadata`` names the target and travels as ``private_metadata``."""
    if rated_by_thumb:
        options = [_thumb_option("up"), _thumb_option("down")]
        initial = None if rating is None else _thumb_option("up" if rating == 1 else "down")
    else:
        options = [_option(value) for value in range(1, 6)]
        initial = _option(rating) if rating in DECISION_LABELS else None
    select: dict[str, Any] = {
        "type": "static_select",
        "action_id": MODAL_RATING_BLOCK,
        "placeholder": _plain("Your rating"),
        "options": options,
    }
    if initial is not None:
        select["initial_option"] = initial
    text_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": MODAL_COMMENT_BLOCK,
        "multiline": True,
        "max_length": COMMENT_MAX_LENGTH,
    }
    if comment:
        text_input["initial_value"] = comment
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "private_metadata": json.dumps(metadata, separators=(",", ":")),
        "title": _plain("Rate and comment"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "blocks": [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(summary[:2000])}]},
            {
                "type": "input",
                "block_id": MODAL_RATING_BLOCK,
                "label": _plain("Rating"),
                "element": select,
            },
            {
                "type": "input",
                "block_id": MODAL_COMMENT_BLOCK,
                "optional": True,
                "label": _plain("Comment"),
                "element": text_input,
            },
        ],
    }
