"""Simulated activity of one agent, as numpy arrays: its CRM book and its actions.

Times are integer seconds since the Unix epoch (UTC). Nothing here touches the database: the
arrays are drawn from one ``numpy.random.Generator``, so the same seed gives the same data.

The e-mail reply probability has true effects (hour, weekday, length, question, persona,
personalisation) for coaching to find; the agent knows them, so its e-mail confidence is
calibrated. Other action types draw their confidence from a beta distribution per type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from backend.actions.models import ActionType
from backend.demo.phrases import COMPANY_STEMS, COMPANY_SUFFIXES, PERSONA_SHARES, PERSONAS

DAY = 86_400
HOUR = 3_600
HISTORY_DAYS = 90

# Action types by index in the arrays, and their share of an agent's actions.
KINDS: tuple[ActionType, ...] = (
    ActionType.EMAIL,
    ActionType.FOLLOW_UP,
    ActionType.MEETING,
    ActionType.STAGE_PROGRESSION,
    ActionType.ESCALATION,
)
EMAIL, FOLLOW_UP, MEETING, STAGE, ESCALATION = range(len(KINDS))
KIND_SHARES = (0.60, 0.15, 0.12, 0.07, 0.06)
# Median tokens an action of each kind spends; cost is tokens at a blended model price.
KIND_TOKENS = (1400, 900, 1100, 1800, 2600)
USD_PER_TOKEN = 0.000012

# E-mail reply model (logit scale). Buckets: hour 0 early <9, 1 morning 9-11, 2 midday 12-13,
# 3 afternoon 14-16, 4 evening >=17; length 0 short, 1 medium, 2 long.
HOUR_BUCKETS = ("early", "morning", "midday", "afternoon", "evening")
HOUR_BUCKET_EDGES = (9, 12, 14, 17)
LENGTH_BUCKETS = ("short", "medium", "long")
LENGTH_SHARES = (0.35, 0.45, 0.20)
LENGTH_WORDS = ((40, 90), (90, 200), (200, 380))
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
REPLY_BASE = -2.78
FOLLOW_UP_SHIFT = -0.25
REPLY_HOUR = np.array([-0.10, 0.30, 0.0, -0.05, -0.45])
REPLY_WEEKDAY = np.array([-0.05, 0.10, 0.10, 0.0, -0.15, -0.50, -0.50])
REPLY_LENGTH = np.array([0.25, 0.0, -0.40])
REPLY_PERSONA = np.array([-0.35, 0.55, 0.0, -0.15])  # in PERSONAS order
REPLY_QUESTION = 0.40
REPLY_PERSONALISED = 0.30
REPLY_TREND = 0.25  # the agent gets a little better over the 90 days

STAGE_COUNT = 5  # open stages prospecting..negotiation (DealStage order)


@dataclass(frozen=True, slots=True)
class ReplyDrop:
    """Reply probabilities of e-mails and follow-ups sent from ``start_s`` on are multiplied by
    ``factor``: the truth and the agent's confidence alike (``backend.demo.planted``)."""

    start_s: int
    factor: float


@dataclass(frozen=True, slots=True)
class ConfidenceDrift:
    """The stated confidence of e-mails sent from ``start_s`` on is multiplied by a factor
    rising linearly from 1 at ``start_s`` to ``peak`` at ``end_s``; the truth stays
    (``backend.demo.planted``)."""

    start_s: int
    end_s: int
    peak: float


@dataclass(frozen=True, slots=True)
class Book:
    """An agent's contacts, accounts, deals and conversation threads (indices are local)."""

    account_stem: NDArray[np.intp]
    account_suffix: NDArray[np.intp]
    contact_account: NDArray[np.intp]
    contact_persona: NDArray[np.intp]
    contact_first: NDArray[np.intp]
    contact_last: NDArray[np.intp]
    deal_account: NDArray[np.intp]
    deal_contact: NDArray[np.intp]
    deal_stage: NDArray[np.intp]  # index into DealStage, closed_won = 5, closed_lost = 6
    deal_amount: NDArray[np.float64]
    deal_created_s: NDArray[np.int64]
    deal_updated_s: NDArray[np.int64]
    conversation_contact: NDArray[np.intp]
    conversation_deal: NDArray[np.intp]  # -1: no deal
    conversation_subject: NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class Actions:
    """One agent's actions in time order, with the features their outcomes depend on."""

    kind: NDArray[np.intp]
    occurred_s: NDArray[np.int64]
    conversation: NDArray[np.intp]
    deal: NDArray[np.intp]  # -1: no deal
    persona: NDArray[np.intp]
    confidence: NDArray[np.float64]
    success_probability: NDArray[np.float64]  # the truth behind the outcome, not stored
    tokens: NDArray[np.int64]
    hour: NDArray[np.intp]
    weekday: NDArray[np.intp]
    length: NDArray[np.intp]
    words: NDArray[np.intp]
    has_question: NDArray[np.bool_]
    personalised: NDArray[np.bool_]
    lead_days: NDArray[np.intp]  # meetings: days between booking and the meeting
    detail_choice: NDArray[np.intp]  # meeting kind, escalation reason or from-stage

    @property
    def is_message(self) -> NDArray[np.bool_]:
        return (self.kind == EMAIL) | (self.kind == FOLLOW_UP)

    @property
    def cost(self) -> NDArray[np.float64]:
        return np.clip(self.tokens * USD_PER_TOKEN, 0.002, 0.05).round(6)

    @property
    def hour_bucket(self) -> NDArray[np.intp]:
        return np.digitize(self.hour, HOUR_BUCKET_EDGES)


def simulate_book(
    rng: np.random.Generator, *, n_actions: int, start_s: int, deal_median: float
) -> Book:
    n_contacts = max(6, round(n_actions / 25))
    n_accounts = max(3, n_contacts // 2)
    n_deals = min(n_accounts, max(2, round(n_actions / 70)))
    n_conversations = max(n_deals + 2, round(n_actions / 8))
    contact_account = rng.integers(0, n_accounts, n_contacts)
    deal_account = rng.permutation(n_accounts)[:n_deals]
    # Each deal has its own main contact, who works at the deal's account.
    deal_contact = rng.choice(n_contacts, n_deals, replace=False)
    contact_account[deal_contact] = deal_account
    account_deal = np.full(n_accounts, -1)
    account_deal[deal_account] = np.arange(n_deals)
    # The first threads are each deal's main thread; the others are with any contact.
    other_contacts = rng.integers(0, n_contacts, n_conversations - n_deals)
    other_deals = np.where(
        rng.random(other_contacts.size) < 0.7, account_deal[contact_account[other_contacts]], -1
    )
    deal_created_s = start_s - rng.integers(0, 60 * DAY, n_deals)
    return Book(
        account_stem=rng.integers(0, len(COMPANY_STEMS), n_accounts),
        account_suffix=rng.integers(0, len(COMPANY_SUFFIXES), n_accounts),
        contact_account=contact_account,
        contact_persona=rng.choice(len(PERSONAS), n_contacts, p=PERSONA_SHARES),
        contact_first=rng.integers(0, 1000, n_contacts),
        contact_last=rng.integers(0, 1000, n_contacts),
        deal_account=deal_account,
        deal_contact=deal_contact,
        deal_stage=rng.choice(7, n_deals, p=(0.15, 0.18, 0.18, 0.15, 0.10, 0.12, 0.12)),
        deal_amount=np.round(deal_median * rng.lognormal(0.0, 0.6, n_deals), -2),
        deal_created_s=deal_created_s,
        deal_updated_s=start_s + rng.integers(10 * DAY, (HISTORY_DAYS - 1) * DAY, n_deals),
        conversation_contact=np.concatenate([deal_contact, other_contacts]),
        conversation_deal=np.concatenate([np.arange(n_deals), other_deals]),
        conversation_subject=rng.integers(0, 1000, n_conversations),
    )


def _occurrences(rng: np.random.Generator, n: int, start_s: int) -> NDArray[np.int64]:
    """Action times: mostly weekday business hours, a little weekend work, growing usage."""
    days = np.arange(HISTORY_DAYS)
    weekday = (start_s // DAY + days + 3) % 7  # 1970-01-01 was a Thursday
    weight = np.select([weekday < 5, weekday == 5], [1.0, 0.10], 0.06)
    weight = weight * (0.85 + 0.30 * days / (HISTORY_DAYS - 1))
    day = rng.choice(days, n, p=weight / weight.sum())
    late = rng.random(n)
    hour = np.where(late < 0.55, rng.normal(10.5, 1.6, n), rng.normal(14.8, 1.8, n))
    hour = np.where(late > 0.95, rng.uniform(17, 22, n), hour)
    hour = np.clip(hour, 6, 22).astype(np.int64)
    seconds = rng.integers(0, HOUR, n)
    return np.sort(start_s + day * DAY + hour * HOUR + seconds)


def simulate_actions(
    rng: np.random.Generator,
    book: Book,
    *,
    n: int,
    start_s: int,
    reply_lift: float,
    reply_drop: ReplyDrop | None = None,
    confidence_drift: ConfidenceDrift | None = None,
) -> Actions:
    """``n`` actions over the 90 days after ``start_s``; ``reply_lift`` shifts reply logits;
    the planted ``reply_drop`` and ``confidence_drift``, when given, apply from their start."""
    occurred_s = _occurrences(rng, n, start_s)
    kind = rng.choice(len(KINDS), n, p=KIND_SHARES)
    # Threads: some are busy, most are quiet. Deal actions happen on threads with a deal.
    weight = rng.gamma(0.8, 1.0, book.conversation_deal.size)
    with_deal = np.flatnonzero(book.conversation_deal >= 0)
    any_thread = rng.choice(weight.size, n, p=weight / weight.sum())
    deal_thread = rng.choice(with_deal, n, p=weight[with_deal] / weight[with_deal].sum())
    needs_deal = (kind == STAGE) | (kind == ESCALATION)
    conversation = np.where(needs_deal, deal_thread, any_thread)
    persona = book.contact_persona[book.conversation_contact[conversation]]

    hour = (occurred_s % DAY) // HOUR
    weekday = (occurred_s // DAY + 3) % 7
    length = rng.choice(3, n, p=LENGTH_SHARES)
    low, high = np.array(LENGTH_WORDS).T
    words = rng.integers(low[length], high[length])
    has_question = rng.random(n) < 0.45
    personalised = rng.random(n) < 0.5
    logit = (
        REPLY_BASE
        + reply_lift
        + REPLY_HOUR[np.digitize(hour, HOUR_BUCKET_EDGES)]
        + REPLY_WEEKDAY[weekday]
        + REPLY_LENGTH[length]
        + REPLY_QUESTION * has_question
        + REPLY_PERSONALISED * personalised
        + REPLY_PERSONA[persona]
        + REPLY_TREND * (occurred_s - start_s) / (HISTORY_DAYS * DAY)
        + FOLLOW_UP_SHIFT * (kind == FOLLOW_UP)
        + rng.normal(0.0, 0.3, n)
    )
    reply_p = np.clip(1.0 / (1.0 + np.exp(-logit)), 0.01, 0.95)
    if reply_drop is not None:
        reply_p = np.where(occurred_s >= reply_drop.start_s, reply_p * reply_drop.factor, reply_p)

    lead_days = rng.choice(np.arange(1, 11), n, p=np.array([6, 10, 10, 9, 8, 6, 4, 3, 2, 2]) / 60)
    meeting_p = np.clip(rng.beta(4.0, 4.0, n), 0.02, 0.98)
    # Meetings are under-confident: attendance is well above what the agent states, and long
    # lead times lose a few more attendees than the agent expects.
    lead_factor = np.select([lead_days <= 3, lead_days >= 7], [1.06, 0.85], 1.0)
    meeting_true = np.clip((meeting_p + 0.35 * (1.0 - meeting_p)) * lead_factor, 0.0, 0.99)
    stage_p = np.clip(rng.beta(5.0, 4.0, n), 0.02, 0.98)
    escalation_p = np.clip(rng.beta(7.0, 3.0, n), 0.02, 0.99)
    choices = [kind == MEETING, kind == STAGE, kind == ESCALATION]
    confidence = np.select(choices, [meeting_p, stage_p, escalation_p], reply_p)
    if confidence_drift is not None:
        confidence = _drifted(confidence, kind == EMAIL, occurred_s, confidence_drift)
    # Escalations are over-confident: their quality is 0.6 of what the agent states.
    truth = np.select(choices, [meeting_true, stage_p, 0.6 * escalation_p], reply_p)
    tokens = np.round(np.array(KIND_TOKENS)[kind] * rng.lognormal(0.0, 0.35, n)).astype(np.int64)
    detail_choice = rng.integers(0, 1 << 30, n)
    return Actions(
        kind=kind,
        occurred_s=occurred_s,
        conversation=conversation,
        deal=book.conversation_deal[conversation],
        persona=persona,
        confidence=confidence.round(4),
        success_probability=truth,
        tokens=tokens,
        hour=hour,
        weekday=weekday,
        length=length,
        words=words,
        has_question=has_question,
        personalised=personalised,
        lead_days=lead_days,
        detail_choice=detail_choice,
    )


def _drifted(
    confidence: NDArray[np.float64],
    chosen: NDArray[np.bool_],
    occurred_s: NDArray[np.int64],
    drift: ConfidenceDrift,
) -> NDArray[np.float64]:
    """``confidence`` with the ``chosen`` actions' stretched by the drift's factor at their time."""
    progress = np.clip((occurred_s - drift.start_s) / (drift.end_s - drift.start_s), 0.0, 1.0)
    factor = np.where(chosen, 1.0 + (drift.peak - 1.0) * progress, 1.0)
    return np.where(factor > 1.0, np.clip(confidence * factor, 0.01, 0.95), confidence)
