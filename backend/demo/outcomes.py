"""Simulated outcomes of one agent's actions and the signals that resolved them (numpy only).

The simulation follows ``backend.outcomes.rules``: every action has one calibrating outcome
(e-mails also an ``email_delivery`` outcome); replies resolve ``email_reply`` by their sentiment
(unknown sentiment goes to a person), bounces and expired windows resolve it negative; the
calendar reports meeting attendance; forward stage changes resolve deal progression by how far
the deal moved, a lost deal or an expired window as ``none``; people rate escalations. Event
windows that expire without their event wait for a label. Only what happened before ``now``
is known: the rest is still open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from backend.demo.simulation import DAY, ESCALATION, HOUR, MEETING, STAGE, STAGE_COUNT, Actions
from backend.outcomes.models import Detection, OutcomeStatus
from backend.signals.models import SignalKind

STATUSES = (OutcomeStatus.OPEN, OutcomeStatus.RESOLVED, OutcomeStatus.NEEDS_LABEL)
OPEN, RESOLVED, NEEDS_LABEL = range(3)
DETECTIONS = (Detection.AUTOMATIC, Detection.HUMAN, Detection.PENDING_LABEL)
AUTOMATIC, HUMAN, PENDING = range(3)
NOBODY, REP, MANAGER = range(3)  # who labelled a human-detected outcome
SENTIMENTS = ("positive", "neutral", "negative", None)  # None: unknown, a person decides
# Why a person is asked (the texts are backend.outcomes.rules' own, see activity.py).
AMBIGUOUS_REPLY, NO_ATTENDANCE, NOT_JUDGED, MOVED_BACKWARDS = range(4)
CLOSED_WON, CLOSED_LOST = STAGE_COUNT, STAGE_COUNT + 1  # DealStage positions

# Signal kinds by index, and the source each comes from.
SIGNAL_KINDS: tuple[SignalKind, ...] = (
    SignalKind.EMAIL_OPENED,
    SignalKind.EMAIL_CLICKED,
    SignalKind.EMAIL_BOUNCED,
    SignalKind.EMAIL_REPLIED,
    SignalKind.MEETING_SCHEDULED,
    SignalKind.MEETING_ATTENDED,
    SignalKind.MEETING_NO_SHOW,
    SignalKind.DEAL_STAGE_CHANGED,
    SignalKind.DEAL_WON,
    SignalKind.DEAL_LOST,
)
(OPENED, CLICKED, BOUNCED, REPLIED, SCHEDULED, ATTENDED, NO_SHOW, STAGE_CHANGED, WON, LOST) = range(
    len(SIGNAL_KINDS)
)
SIGNAL_SOURCES = ("email_provider",) * 4 + ("agent",) + ("crm",) * 5

# The user agents of opens and clicks (``Events.user_agent`` indexes them): Apple's privacy
# relay, security gateways, people's mail clients (opens) and browsers (clicks). The seeder
# classifies each with the live rules (``backend.signals.engagement``).
MPP_AGENT = "Mozilla/5.0"
SCANNER_AGENTS = (
    "Mozilla/5.0 (compatible; Mimecast URL Protect/1.0)",
    "Proofpoint URL Defense/1.0 (+https://www.proofpoint.com)",
    "Barracuda Sentinel (EE)",
)
MAIL_CLIENT_AGENTS = (
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
)
BROWSER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
)
USER_AGENTS = (MPP_AGENT, *SCANNER_AGENTS, *MAIL_CLIENT_AGENTS, *BROWSER_AGENTS)
_SCANNER = 1 + np.arange(len(SCANNER_AGENTS))
_MAIL_CLIENT = _SCANNER[-1] + 1 + np.arange(len(MAIL_CLIENT_AGENTS))
_BROWSER = _MAIL_CLIENT[-1] + 1 + np.arange(len(BROWSER_AGENTS))
# Recipients on Apple Mail with Mail Privacy Protection: every message they get is preloaded
# (their reads are then served from the relay's cache, unseen). About 27 % of recipients
# makes 40-50 % of the opens, as B2B senders report. Recipients behind a gateway that fetches
# images and follows links: about 1 in 10.
MPP_SHARE, SCANNED_SHARE = 0.27, 0.10


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Outcomes of (some of) the actions: ``action`` indexes the agent's actions."""

    action: NDArray[np.intp]
    level: NDArray[np.intp]  # position on the outcome's scale (the truth, even if not known)
    value: NDArray[np.float64]  # level normalised to [0, 1]; NaN unless resolved
    status: NDArray[np.intp]
    detection: NDArray[np.intp]
    due_s: NDArray[np.int64]
    resolved_s: NDArray[np.int64]  # -1: not resolved
    labelled_by: NDArray[np.intp]
    signal: NDArray[np.intp]  # kind of the signal it was resolved by (or waits on), -1: none
    label_reason: NDArray[np.intp]  # index into LABEL_REASONS when a person was asked, else -1
    asked_s: NDArray[np.int64]  # when a person was asked to label it, -1: never


@dataclass(frozen=True, slots=True)
class Events:
    """The signals (``action``, ``kind``, ``occurred_s``) and per-action facts for payloads."""

    action: NDArray[np.intp]
    kind: NDArray[np.intp]
    occurred_s: NDArray[np.int64]
    reply_s: NDArray[np.int64]  # per action: when a reply arrived (-1: none yet)
    sentiment: NDArray[np.intp]  # per action: index into SENTIMENTS
    meeting_s: NDArray[np.int64]  # per action: when the meeting takes place
    from_stage: NDArray[np.intp]  # per action: the deal's stage when the agent acted
    to_stage: NDArray[np.intp]  # per action: where a stage change took the deal (-1: none)
    user_agent: NDArray[np.intp]  # per signal: index into USER_AGENTS (-1: not an open/click)


class _Ledger:
    """The state of one outcome per action as events happen; only the past is applied."""

    def __init__(
        self,
        level: NDArray[np.intp],
        scale_size: NDArray[np.intp] | int,
        due_s: NDArray[np.int64],
        now_s: int,
    ) -> None:
        n = level.size
        self.level, self.due_s, self.now_s = level, due_s, now_s
        self.value = level / (np.asarray(scale_size) - 1)
        self.status = np.full(n, OPEN)
        self.detection = np.full(n, AUTOMATIC)
        self.resolved_s = np.full(n, -1, dtype=np.int64)
        self.labelled_by = np.full(n, NOBODY)
        self.signal = np.full(n, -1)
        self.label_reason = np.full(n, -1)
        self.asked_s = np.full(n, -1, dtype=np.int64)

    def resolve(
        self,
        mask: NDArray[np.bool_],
        at: NDArray[np.int64],
        *,
        signal: int = -1,
        by: int | NDArray[np.intp] = NOBODY,
    ) -> None:
        """Resolve the outcomes in ``mask`` at ``at`` (by a person when ``by`` is given)."""
        done = mask & (at < self.now_s)
        self.status[done], self.resolved_s[done] = RESOLVED, at[done]
        unasked = done & (self.asked_s > at)  # settled before anyone had to be asked
        self.label_reason[unasked], self.asked_s[unasked] = -1, -1
        if signal >= 0:
            self.signal[done] = signal
        labelled = np.broadcast_to(by, done.shape)
        self.labelled_by[done] = labelled[done]
        self.detection[done] = np.where(labelled[done] == NOBODY, AUTOMATIC, HUMAN)

    def ask_label(
        self, mask: NDArray[np.bool_], at: NDArray[np.int64], *, reason: int, signal: int = -1
    ) -> None:
        """Send the outcomes in ``mask`` to the labelling queue at ``at``."""
        asked = mask & (at < self.now_s)
        self.status[asked], self.detection[asked] = NEEDS_LABEL, PENDING
        self.label_reason[asked], self.asked_s[asked] = reason, at[asked]
        if signal >= 0:
            self.signal[asked] = signal

    def outcomes(self, action: NDArray[np.intp]) -> Outcomes:
        value = np.where(self.status == RESOLVED, self.value, np.nan)
        return Outcomes(
            action,
            self.level,
            value,
            self.status,
            self.detection,
            self.due_s,
            self.resolved_s,
            self.labelled_by,
            self.signal,
            self.label_reason,
            self.asked_s,
        )


def simulate_outcomes(
    rng: np.random.Generator, actions: Actions, *, now_s: int
) -> tuple[Outcomes, Outcomes, Events]:
    """The calibrating outcome of every action, the delivery outcome of every e-mail, and the
    signals, all as known at ``now_s``."""
    n = actions.kind.size
    kind, occ, truth = actions.kind, actions.occurred_s, actions.success_probability
    message, meeting = actions.is_message, kind == MEETING
    stage, escalation = kind == STAGE, kind == ESCALATION
    five_level = stage | escalation
    level = np.where(five_level, rng.binomial(4, truth), rng.random(n) < truth).astype(np.intp)
    due_s = occ + np.where(message, 7 * DAY, 30 * DAY)
    book = _Ledger(level, np.where(five_level, 5, 2), due_s, now_s)
    signals: list[tuple[NDArray[np.bool_], NDArray[np.int64], int]] = []
    u = rng.random((6, n))

    # E-mails. A reply's sentiment decides it; a few are ambiguous and go to the rep.
    replied = message & (level == 1)
    bounced = message & (level == 0) & (u[0] < 0.025)
    declined = message & (level == 0) & ~bounced & (u[1] < 0.04)  # "not interested"
    answered = replied | declined
    delay = np.clip(np.exp(rng.normal(np.log(4 * HOUR), 1.2, n)), 300, 7 * DAY - 60).astype(int)
    reply_s = occ + delay
    ambiguous = replied & (u[2] < 0.07)
    sentiment = np.select([declined, ambiguous, replied & (u[3] < 0.3)], [2, 3, 1], 0)
    bounce_s = occ + rng.integers(30, 600, n)
    book.resolve(replied & ~ambiguous, reply_s, signal=REPLIED)
    book.resolve(declined, reply_s, signal=REPLIED)
    book.resolve(bounced, bounce_s, signal=BOUNCED)
    book.resolve(message & (level == 0) & ~answered & ~bounced, due_s)  # window expired
    book.ask_label(ambiguous, reply_s, reason=AMBIGUOUS_REPLY, signal=REPLIED)
    book.resolve(
        ambiguous & (u[4] < 0.85),
        reply_s + rng.integers(HOUR, 48 * HOUR, n),
        signal=REPLIED,
        by=REP,
    )
    opened = message & ~bounced & (answered | (u[4] < 0.38))
    idle_open = np.clip(np.exp(rng.normal(np.log(3 * HOUR), 1.0, n)), 60, 7 * DAY).astype(int)
    open_s = occ + np.where(answered, (delay * rng.uniform(0.1, 0.9, n)).astype(int), idle_open)
    clicked = opened & (u[5] < 0.10)
    signals += [(bounced, bounce_s, BOUNCED), (answered, reply_s, REPLIED)]

    # Meetings. The calendar reports most; the rest the rep labels, or they wait for a label.
    meeting_day = occ // DAY + actions.lead_days
    meeting_day += np.select([(meeting_day + 3) % 7 == 5, (meeting_day + 3) % 7 == 6], [2, 1], 0)
    meeting_s = meeting_day * DAY + rng.integers(9, 17, n) * HOUR + rng.choice([0, 1800], n)
    attendance_s = meeting_s + np.where(level == 1, 600, 1200)
    by_calendar = meeting & (u[0] >= 0.07)
    book.resolve(by_calendar & (level == 1), attendance_s, signal=ATTENDED)
    book.resolve(by_calendar & (level == 0), attendance_s, signal=NO_SHOW)
    book.ask_label(meeting & ~by_calendar, due_s, reason=NO_ATTENDANCE)
    book.resolve(
        meeting & ~by_calendar & (u[1] < 0.7), meeting_s + rng.integers(HOUR, 24 * HOUR, n), by=REP
    )
    signals += [
        (meeting, occ + rng.integers(60, 600, n), SCHEDULED),
        (by_calendar & (level == 1), attendance_s, ATTENDED),
        (by_calendar & (level == 0), attendance_s, NO_SHOW),
    ]

    # Stage progressions. The first forward move decides; a lost deal or silence means none;
    # deals that moved backwards are ambiguous and a manager labels them.
    backwards = stage & (u[0] < 0.08)
    moved = stage & (level >= 1) & ~backwards
    lost = stage & (level == 0) & ~backwards & (u[1] < 0.25)
    # A major move is a close (won) or four pipeline steps; smaller moves fit the pipeline.
    won = moved & (level == 4) & (u[2] < 0.25)
    from_stage = np.where(
        moved & ~won,
        actions.detail_choice % (STAGE_COUNT - level),
        actions.detail_choice % STAGE_COUNT,
    )
    to_stage = np.select([won, moved, lost], [CLOSED_WON, from_stage + level, CLOSED_LOST], -1)
    change_s = occ + rng.integers(DAY, 28 * DAY, n)
    book.resolve(moved, change_s, signal=STAGE_CHANGED)
    book.resolve(lost, change_s, signal=LOST)
    book.resolve(stage & (level == 0) & ~backwards & ~lost, due_s)
    book.ask_label(backwards, due_s, reason=MOVED_BACKWARDS)
    book.resolve(backwards & (u[2] < 0.8), due_s + rng.integers(HOUR, 96 * HOUR, n), by=MANAGER)
    signals += [(moved, change_s, STAGE_CHANGED), (won, change_s + 60, WON), (lost, change_s, LOST)]

    # Escalations: the rep or their manager rates most within three days; the others wait.
    rated = escalation & (u[0] < 0.92)
    book.resolve(
        rated, occ + rng.integers(HOUR, 72 * HOUR, n), by=np.where(u[1] < 0.35, MANAGER, REP)
    )
    book.ask_label(escalation & ~rated, due_s, reason=NOT_JUDGED)

    # Delivery of e-mails: bounced, or delivered when a reply came or the 24 h window closed.
    sent = np.flatnonzero(message)
    delivery = _Ledger((~bounced[sent]).astype(np.intp), 2, occ[sent] + DAY, now_s)
    early_reply = (answered & (reply_s < occ + DAY))[sent]
    delivery.resolve(bounced[sent], bounce_s[sent], signal=BOUNCED)
    delivery.resolve(early_reply, reply_s[sent], signal=REPLIED)
    delivery.resolve(~bounced[sent] & ~early_reply, occ[sent] + DAY)

    # Opens and clicks, people's and software's (drawn last: the rest is as it was drawn).
    v = rng.random((2, n))
    delivered = message & ~bounced
    mpp = delivered & (v[0] < MPP_SHARE)
    scanned = delivered & ~mpp & (v[1] < SCANNED_SHARE)
    preload_s = occ + np.clip(np.exp(rng.normal(np.log(90), 1.5, n)), 1, 6 * HOUR).astype(int)
    scan_s = occ + rng.integers(1, 40, n)
    scanner = rng.choice(_SCANNER, n)
    # (mask, when, kind, user agent per action)
    engagement = [
        (opened & ~mpp, open_s, OPENED, rng.choice(_MAIL_CLIENT, n)),
        (clicked, open_s + rng.integers(10, 900, n), CLICKED, rng.choice(_BROWSER, n)),
        (mpp, preload_s, OPENED, np.zeros(n, dtype=np.intp)),
        (scanned, scan_s, OPENED, scanner),
        (scanned, scan_s + rng.integers(0, 3, n), CLICKED, scanner),
    ]
    every = [(mask, at, k, np.full(n, -1)) for mask, at, k in signals] + engagement
    action = np.concatenate([np.flatnonzero(mask) for mask, _, _, _ in every])
    when = np.concatenate([at[mask] for mask, at, _, _ in every])
    what = np.concatenate([np.full(int(mask.sum()), k) for mask, _, k, _ in every])
    agent = np.concatenate([ua[mask] for mask, _, _, ua in every])
    keep = when < now_s
    order = np.lexsort((what[keep], when[keep]))
    events = Events(
        action=action[keep][order],
        kind=what[keep][order],
        occurred_s=when[keep][order],
        reply_s=np.where(answered & (reply_s < now_s), reply_s, -1),
        sentiment=sentiment,
        meeting_s=meeting_s,
        from_stage=from_stage,
        to_stage=to_stage,
        user_agent=agent[keep][order],
    )
    return book.outcomes(np.arange(n)), delivery.outcomes(sent), events
