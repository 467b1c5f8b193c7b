"""Simulated feedback on one agent's work: thumbs on messages, prompted ratings of critical
actions and retrospective thread reviews, correlated with how the actions turned out."""

from __future__ import annotations

from typing import Any

import numpy as np

from backend.demo import phrases
from backend.demo.activity import AgentActivity
from backend.demo.rows import moment
from backend.demo.simulation import DAY, ESCALATION, HOUR, STAGE
from backend.feedback.models import FeedbackChannel

CHANNELS = (FeedbackChannel.GMAIL, FeedbackChannel.SLACK, FeedbackChannel.DASHBOARD)
GMAIL, SLACK, DASHBOARD = range(3)


def feedback_rows(
    rng: np.random.Generator,
    activity: AgentActivity,
    *,
    organization_id: int,
    slug: str,
    now_s: int,
) -> list[dict[str, Any]]:
    a, o, rep = activity.actions, activity.outcomes, activity.rep
    n = a.kind.size
    prefix = f"{slug}-{rep.number:02d}"
    rows: list[dict[str, Any]] = []

    def add(
        target: str,
        target_id: int,
        rating: int,
        created_s: int,
        channel: int,
        by_manager: bool,
        *,
        prompted: bool = False,
        criteria: dict[str, int] | None = None,
    ) -> None:
        if created_s >= now_s:
            return  # not given yet
        comment = None
        if rng.random() < 0.3:  # a rating is required, a comment is not
            bank = _comments(rating if target != "message" else 1 + 4 * rating)
            comment = bank[int(rng.integers(len(bank)))]
        external = (
            f"{CHANNELS[channel].value}-{prefix}-{len(rows):06d}" if channel != DASHBOARD else None
        )
        rows.append(
            {
                "organization_id": organization_id,
                "agent_id": rep.agent_id,
                "target_type": target,
                "message_id": target_id if target == "message" else None,
                "action_id": target_id if target == "action" else None,
                "conversation_id": target_id if target == "conversation" else None,
                "rating": rating,
                "comment": comment,
                "criteria": criteria or {},
                "channel": CHANNELS[channel].value,
                "author_id": rep.manager_id if by_manager else rep.user_id,
                "prompted": prompted,
                "external_id": external,
                "created_at": moment(created_s),
                "updated_at": moment(created_s),
            }
        )

    # Thumbs on outbound messages, more often (and kinder) on those that got a reply.
    replied = a.is_message & (o.level == 1)
    picked = a.is_message & (rng.random(n) < np.where(replied, 0.10, 0.055))
    up = rng.random(n) < np.clip(
        0.55 + 0.25 * replied - 0.15 * (a.length == 2) + 0.10 * a.personalised, 0.05, 0.95
    )
    delay = np.clip(np.exp(rng.normal(np.log(2 * HOUR), 1.0, n)), 300, 3 * DAY).astype(np.int64)
    channel = rng.choice(3, n, p=(0.6, 0.3, 0.1))
    by_manager = rng.random(n) < 0.15
    for i in np.flatnonzero(picked).tolist():
        add(
            "message",
            int(activity.message_ids[i]),
            int(up[i]),
            int(a.occurred_s[i] + delay[i]),
            int(channel[i]),
            bool(by_manager[i]),
        )

    # Prompted ratings of escalations and stage changes, in Slack as they happen.
    critical = (a.kind == ESCALATION) | (a.kind == STAGE)
    picked = critical & (rng.random(n) < 0.55)
    quality = 0.75 * o.level / 4 + 0.25 * rng.random(n)
    rating = np.clip(np.rint(1 + 4 * quality + rng.normal(0, 0.5, n)), 1, 5).astype(int)
    when = a.occurred_s + rng.integers(120, 4 * HOUR, n)
    channel = np.where(rng.random(n) < 0.75, SLACK, DASHBOARD)
    by_manager = rng.random(n) < np.where(a.kind == ESCALATION, 0.5, 0.3)
    for i in np.flatnonzero(picked).tolist():
        add(
            "action",
            int(activity.action_ids[i]),
            int(rating[i]),
            int(when[i]),
            int(channel[i]),
            bool(by_manager[i]),
            prompted=True,
        )

    # Reviews of whole threads, mostly by managers, following the thread's reply rate.
    threads = activity.conversation_ids.size
    sent = np.bincount(a.conversation, weights=a.is_message, minlength=threads)
    replies = np.bincount(a.conversation, weights=replied, minlength=threads)
    last = np.zeros(threads, dtype=np.int64)
    np.maximum.at(last, a.conversation, a.occurred_s)
    rate = np.divide(replies, sent, out=np.zeros(threads), where=sent > 0)
    picked = (sent > 0) & (rng.random(threads) < 0.08)
    rating = np.clip(np.rint(2.6 + 6 * (rate - 0.1) + rng.normal(0, 0.8, threads)), 1, 5)
    spread = rng.integers(-1, 2, (threads, 3))
    when = last + rng.integers(DAY, 7 * DAY, threads)
    channel = np.where(rng.random(threads) < 0.85, DASHBOARD, SLACK)
    by_manager = rng.random(threads) < 0.7
    for k in np.flatnonzero(picked).tolist():
        r = int(rating[k])
        tone, accuracy, next_step = np.clip(r + spread[k], 1, 5).tolist()
        add(
            "conversation",
            int(activity.conversation_ids[k]),
            r,
            int(when[k]),
            int(channel[k]),
            bool(by_manager[k]),
            criteria={"tone": tone, "accuracy": accuracy, "next_step": next_step},
        )
    return rows


def _comments(stars: int) -> tuple[str, ...]:
    """The phrase bank that fits a rating of ``stars`` (1..5; a thumb up is 5, down is 1)."""
    if stars >= 4:
        return phrases.POSITIVE_COMMENTS
    return phrases.NEUTRAL_COMMENTS if stars == 3 else phrases.NEGATIVE_COMMENTS
