"""The declarative rules that turn actions and signals into outcomes.

Which outcomes an action opens (and in which window), which signals resolve them at which level,
which signals are only weak evidence, what an expired window means: all of it is data here, and
an organisation may override window lengths and expiry rules in its `config`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from analytics_engine.scales import BINARY, DEFAULT_OUTCOME_SCALES, Scale
from backend.crm.models import DealStage
from backend.outcomes.models import OutcomeWindow

OUTCOME_SCALES: Mapping[str, Scale] = {**DEFAULT_OUTCOME_SCALES, "task_success": BINARY}

DEFAULT_WINDOWS: Mapping[OutcomeWindow, dt.timedelta] = {
    OutcomeWindow.IMMEDIATE_24H: dt.timedelta(hours=24),
    OutcomeWindow.ENGAGEMENT_7D: dt.timedelta(days=7),
    OutcomeWindow.DEAL_30D: dt.timedelta(days=30),
    # Event-based outcomes wait for their event; after this long a person is asked instead.
    OutcomeWindow.EVENT: dt.timedelta(days=30),
}


@dataclass(frozen=True)
class Expiry:
    """What an expired window means: a level on the outcome's scale, or a labelling task."""

    level: str | None = None
    label_reason: str | None = None
    # Evidence keys that make the expiry ambiguous (e.g. a deal that moved backwards).
    ambiguous_if: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutcomePlan:
    """One outcome an action opens when it is recorded."""

    outcome_type: str
    window: OutcomeWindow
    expiry: Expiry
    calibrates: bool = False  # the outcome the action's stated confidence is about

    @property
    def scale(self) -> Scale:
        return OUTCOME_SCALES[self.outcome_type]


_EMAIL_PLANS = (
    OutcomePlan("email_delivery", OutcomeWindow.IMMEDIATE_24H, Expiry(level="positive")),
    OutcomePlan(
        "email_reply", OutcomeWindow.ENGAGEMENT_7D, Expiry(level="negative"), calibrates=True
    ),
)
DEFAULT_PLANS: Mapping[str, tuple[OutcomePlan, ...]] = {
    "email": _EMAIL_PLANS,
    "follow_up": _EMAIL_PLANS,
    "meeting": (
        OutcomePlan(
            "meeting_attendance",
            OutcomeWindow.EVENT,
            Expiry(label_reason="no attendance signal arrived for the meeting"),
            calibrates=True,
        ),
    ),
    "escalation": (
        OutcomePlan(
            "escalation_quality",
            OutcomeWindow.EVENT,
            Expiry(label_reason="the escalation has not been judged yet"),
            calibrates=True,
        ),
    ),
    "stage_progression": (
        OutcomePlan(
            "deal_progression",
            OutcomeWindow.DEAL_30D,
            Expiry(
                level="none",
                label_reason="the deal moved backwards and did not recover in the window",
                ambiguous_if=("backward_moves",),
            ),
            calibrates=True,
        ),
    ),
}
# An action type the rules do not know yet still gets one calibrating outcome, judged by people.
FALLBACK_PLANS = (
    OutcomePlan(
        "task_success",
        OutcomeWindow.ENGAGEMENT_7D,
        Expiry(label_reason="no rule resolves this action type automatically"),
        calibrates=True,
    ),
)


@dataclass(frozen=True)
class Effect:
    """What one signal does to one outcome type of the matched action."""

    outcome_type: str
    level: str | None = None  # resolve at this level
    label_reason: str | None = None  # or send to labelling
    weak: str | None = None  # or only count as weak evidence under this key
    note: str | None = None  # or record this evidence key (no resolution)
    # Evidence keys that make a resolving signal ambiguous (it then goes to labelling).
    ambiguous_if: tuple[str, ...] = ()


Interpreter = Callable[[Mapping[str, Any]], tuple[Effect, ...]]
PIPELINE = [s.value for s in DealStage if s not in (DealStage.CLOSED_WON, DealStage.CLOSED_LOST)]


def _reply(payload: Mapping[str, Any]) -> tuple[Effect, ...]:
    sentiment = str(payload.get("sentiment") or "unknown").lower()
    delivered = Effect("email_delivery", level="positive")
    if sentiment in ("positive", "neutral"):
        return (delivered, Effect("email_reply", level="positive"))
    if sentiment == "negative":
        return (delivered, Effect("email_reply", level="negative"))
    return (
        delivered,
        Effect("email_reply", label_reason="a reply arrived; its sentiment is unknown"),
    )


def _stage_changed(payload: Mapping[str, Any]) -> tuple[Effect, ...]:
    """Forward moves resolve deal progression by how far the deal moved (1 stage = minimal ..
    4 or more = major); closing won is major, closing lost is none; a backward move is noted
    and makes a later forward move ambiguous."""
    to_stage, from_stage = payload.get("to_stage"), payload.get("from_stage")
    if to_stage == DealStage.CLOSED_WON:
        return (Effect("deal_progression", level="major"),)
    if to_stage == DealStage.CLOSED_LOST:
        return (Effect("deal_progression", level="none"),)
    if from_stage not in PIPELINE or to_stage not in PIPELINE:
        return (Effect("deal_progression", label_reason="the deal moved between unknown stages"),)
    steps = PIPELINE.index(to_stage) - PIPELINE.index(from_stage)
    if steps < 0:
        return (Effect("deal_progression", note="backward_moves"),)
    if steps == 0:
        return ()
    levels = OUTCOME_SCALES["deal_progression"].levels
    level = levels[min(steps, len(levels) - 1)]
    return (Effect("deal_progression", level=level, ambiguous_if=("backward_moves",)),)


def _meeting_scheduled(payload: Mapping[str, Any]) -> tuple[Effect, ...]:
    if payload.get("rescheduled"):
        return (Effect("meeting_attendance", label_reason="the meeting was rescheduled"),)
    return ()


def _meeting_feedback(payload: Mapping[str, Any]) -> tuple[Effect, ...]:
    rating = str(payload.get("rating") or "").lower()
    if rating in OUTCOME_SCALES["meeting_feedback"].levels:
        return (Effect("meeting_feedback", level=rating),)
    return (Effect("meeting_feedback", label_reason="meeting feedback without a usable rating"),)


def _fixed(*effects: Effect) -> Interpreter:
    return lambda _payload: effects


SIGNAL_RULES: Mapping[str, Interpreter] = {
    "email.bounced": _fixed(
        Effect("email_delivery", level="negative"), Effect("email_reply", level="negative")
    ),
    "email.replied": _reply,
    # Opens and clicks are weak evidence (image proxies and link scanners open mail): they are
    # counted on the reply outcome and never resolve it.
    "email.opened": _fixed(Effect("email_reply", weak="opens")),
    "email.clicked": _fixed(Effect("email_reply", weak="clicks")),
    "deal.stage_changed": _stage_changed,
    "opportunity.created": _fixed(Effect("deal_progression", level="some")),
    "deal.won": _fixed(Effect("deal_progression", level="major")),
    "deal.lost": _fixed(Effect("deal_progression", level="none")),
    "meeting.scheduled": _meeting_scheduled,
    "meeting.attended": _fixed(Effect("meeting_attendance", level="positive")),
    "meeting.no_show": _fixed(Effect("meeting_attendance", level="negative")),
    "meeting.feedback": _meeting_feedback,
}
# Outcomes a signal may create when the action did not open them up front (event-born).
EVENT_BORN_OUTCOMES: Mapping[str, str] = {"meeting_feedback": "meeting"}
# Signals about a deal concern every open outcome on it; the others only the latest action.
DEAL_WIDE_KINDS = frozenset({"deal.stage_changed", "opportunity.created", "deal.won", "deal.lost"})


@dataclass(frozen=True)
class OutcomeRules:
    """The rules in force for one organisation: defaults, overridden by its `config`."""

    windows: Mapping[OutcomeWindow, dt.timedelta] = field(default_factory=lambda: DEFAULT_WINDOWS)
    plans: Mapping[str, tuple[OutcomePlan, ...]] = field(default_factory=lambda: DEFAULT_PLANS)

    def plans_for(self, action_type: str) -> tuple[OutcomePlan, ...]:
        return self.plans.get(action_type, FALLBACK_PLANS)

    def calibrating_plan(self, action_type: str) -> OutcomePlan:
        return next(p for p in self.plans_for(action_type) if p.calibrates)

    def due_at(self, window: OutcomeWindow, opened_at: dt.datetime) -> dt.datetime:
        return opened_at + self.windows[window]

    def last_matured_day(self, window: OutcomeWindow, today: dt.date) -> dt.date:
        """The last UTC day whose actions' outcomes in ``window`` have all had their window
        close before ``today`` began (an action at 23:59 closes a 7-day window 7 days and a
        minute later). Later days are still maturing: a reply is decided at once, "no reply"
        only when the window closes, so their rates lean towards success."""
        length = self.windows[window]
        return today - dt.timedelta(days=length.days + (1 if length.seconds == 0 else 2))

    def effects(self, kind: str, payload: Mapping[str, Any]) -> tuple[Effect, ...]:
        rule = SIGNAL_RULES.get(kind)
        return rule(payload) if rule else ()

    def plan(self, action_type: str, outcome_type: str) -> OutcomePlan | None:
        return next(
            (p for p in self.plans_for(action_type) if p.outcome_type == outcome_type), None
        )


def rules_for(config: Mapping[str, Any] | None) -> OutcomeRules:
    """Build an organisation's rules from its config, e.g.
    ``{"outcome_windows": {"engagement_7d": {"hours": 120}},
       "expiry": {"email_reply": {"level": "negative"}}}``; unknown keys are errors."""
    config = config or {}
    windows = dict(DEFAULT_WINDOWS)
    for name, length in (config.get("outcome_windows") or {}).items():
        try:
            window = OutcomeWindow(name)
        except ValueError:
            raise ValueError(f"outcome_windows has an unknown window {name!r}") from None
        hours = float(length.get("hours", 0)) if isinstance(length, Mapping) else float(length)
        if not hours > 0:
            raise ValueError(f"outcome_windows.{name} must be a positive number of hours")
        windows[window] = dt.timedelta(hours=hours)
    plans = {k: tuple(v) for k, v in DEFAULT_PLANS.items()}
    for outcome_type, override in (config.get("expiry") or {}).items():
        scale = OUTCOME_SCALES.get(outcome_type)
        if scale is None:
            raise ValueError(f"expiry has an unknown outcome type {outcome_type!r}")
        level = override.get("level")
        if level is not None and level not in scale.levels:
            raise ValueError(f"expiry.{outcome_type}.level {level!r} is not on its scale")
        expiry = Expiry(
            level=level,
            label_reason=override.get("label_reason")
            or (None if level else "the window expired; a person decides"),
        )
        for action_type, action_plans in plans.items():
            plans[action_type] = tuple(
                replace(p, expiry=expiry) if p.outcome_type == outcome_type else p
                for p in action_plans
            )
    return OutcomeRules(windows=windows, plans=plans)
