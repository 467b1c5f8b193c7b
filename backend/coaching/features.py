"""The features coaching mines: what each action's metadata and timing say about it (send
weekday and time of day, length, personalisation, a question, follow-up spacing, the agent),
as one categorical array per feature for ``analytics_engine.coaching.find_insights``.

The agent reports what it knows in the action's ``details`` (see docs/api.md): ``weekday`` and
``hour`` in the contact's local time (or a ``timezone``, an IANA name, to derive them),
``length_bucket`` or ``word_count``, ``personalized``, ``has_question``. What it does not report
is derived from the action's time in UTC, or is "unknown" (never mined: see `UNKNOWN`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from numpy.typing import NDArray

UNKNOWN = "unknown"  # a value the action did not report: its group is never an insight
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEND_TIMES = ("early", "morning", "midday", "afternoon", "evening")
SEND_TIME_EDGES = (9, 12, 14, 17)  # local hours where the next send time begins
LENGTHS = ("short", "medium", "long")
LENGTH_EDGES = (90, 200)  # words where the next length begins
SPACINGS = ("first", "same_day", "1-2_days", "3-6_days", "7+_days")
SPACING_EDGES = (1, 3, 7)  # whole days where the next spacing begins
# How far back an earlier action on the thread counts; beyond it the action is a first touch.
SPACING_LOOKBACK = dt.timedelta(days=60)


@dataclass(frozen=True, slots=True)
class ActionRow:
    """One action with what coaching reads of it, and its outcome (0..1)."""

    action_id: int
    agent_id: int
    conversation_id: int | None
    action_type: str
    occurred_at: dt.datetime
    details: Mapping[str, Any]
    previous_at: dt.datetime | None  # the thread's previous action, if any
    outcome: float


def _zone(details: Mapping[str, Any]) -> dt.tzinfo:
    name = details.get("timezone")
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return dt.UTC


def weekday(row: ActionRow) -> str:
    given = row.details.get("weekday")
    if isinstance(given, str) and given[:3].lower() in WEEKDAYS:
        return given[:3].lower()
    return WEEKDAYS[row.occurred_at.astimezone(_zone(row.details)).weekday()]


def send_time(row: ActionRow) -> str:
    given = row.details.get("hour_bucket")
    if isinstance(given, str) and given in SEND_TIMES:
        return given
    hour = row.details.get("hour")
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        hour = row.occurred_at.astimezone(_zone(row.details)).hour
    return SEND_TIMES[int(np.digitize(hour, SEND_TIME_EDGES))]


def length(row: ActionRow) -> str:
    given = row.details.get("length_bucket")
    if isinstance(given, str) and given in LENGTHS:
        return given
    words = row.details.get("word_count")
    if isinstance(words, bool) or not isinstance(words, int) or words < 0:
        return UNKNOWN
    return LENGTHS[int(np.digitize(words, LENGTH_EDGES))]


def _yes_no(value: Any) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else UNKNOWN


def personalised(row: ActionRow) -> str:
    return _yes_no(row.details.get("personalized", row.details.get("personalised")))


def question(row: ActionRow) -> str:
    return _yes_no(row.details.get("has_question"))


def follow_up_spacing(row: ActionRow) -> str:
    """Whole days since the thread's previous action ("first": none within the lookback)."""
    if row.conversation_id is None:
        return UNKNOWN
    if row.previous_at is None or row.occurred_at - row.previous_at > SPACING_LOOKBACK:
        return SPACINGS[0]
    days = (row.occurred_at - row.previous_at).total_seconds() / 86_400
    return SPACINGS[1 + int(np.digitize(days, SPACING_EDGES))]


def agent(row: ActionRow) -> str:
    return str(row.agent_id)


# Feature name -> how each action's value is read. Each is advice a rep can follow, except the
# agent (which agent of the team: an opportunity for its manager).
FEATURES = {
    "weekday": weekday,
    "send_time": send_time,
    "length": length,
    "personalised": personalised,
    "question": question,
    "follow_up_spacing": follow_up_spacing,
    "agent": agent,
}
MANAGER_FEATURES = frozenset({"agent"})


@dataclass(frozen=True)
class FeatureTable:
    """The engine's input: one array per feature, the outcomes and the action types, aligned
    with ``action_ids``."""

    action_ids: NDArray[np.int64]
    features: dict[str, NDArray[np.str_]]
    outcomes: NDArray[np.float64]
    action_types: NDArray[np.str_]


def feature_table(rows: Sequence[ActionRow]) -> FeatureTable:
    """Each feature's value of each action (a loop over actions reading their JSON details:
    they are dictionaries, so there is nothing to vectorise until they are arrays)."""
    return FeatureTable(
        action_ids=np.array([r.action_id for r in rows], dtype=np.int64),
        features={
            name: np.array([read(r) for r in rows], dtype=np.str_)
            for name, read in FEATURES.items()
        },
        outcomes=np.array([r.outcome for r in rows], dtype=np.float64),
        action_types=np.array([r.action_type for r in rows], dtype=np.str_),
    )
