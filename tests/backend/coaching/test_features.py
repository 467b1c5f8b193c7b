"""Each action's features, worked by hand: what the agent reported wins, timing fills the rest,
and what nobody reported is "unknown" (never mined)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from analytics_engine.coaching import CoachingInsight as Finding
from analytics_engine.coaching import EffectDirection, Measure
from backend.coaching.features import UNKNOWN, ActionRow, feature_table
from backend.coaching.mining import clearly_stronger
from backend.coaching.models import CoachingInsight

# Monday 2026-11-02, 23:30 UTC: already Tuesday 08:30 in Tokyo.
AT = dt.datetime(2026, 11, 2, 23, 30, tzinfo=dt.UTC)


def _row(
    details: dict, *, previous: dt.datetime | None = None, thread: int | None = 7
) -> ActionRow:
    return ActionRow(1, 2, thread, "email", AT, details, previous, 1.0)


@pytest.mark.parametrize(
    ("details", "weekday", "send_time"),
    [
        ({}, "mon", "evening"),  # from the time in UTC
        ({"timezone": "Asia/Tokyo"}, "tue", "early"),  # in the contact's zone
        ({"timezone": "Not/AZone"}, "mon", "evening"),  # an unknown zone: UTC
        ({"weekday": "Thursday", "hour": 10}, "thu", "morning"),  # as the agent reported
        ({"hour_bucket": "midday", "hour": 10}, "mon", "midday"),
        ({"hour": True}, "mon", "evening"),  # not an hour
    ],
)
def test_send_day_and_time(details: dict, weekday: str, send_time: str) -> None:
    table = feature_table([_row(details)])
    assert (table.features["weekday"][0], table.features["send_time"][0]) == (weekday, send_time)


@pytest.mark.parametrize(
    ("details", "length", "personalised", "question"),
    [
        ({}, UNKNOWN, UNKNOWN, UNKNOWN),
        ({"word_count": 89, "personalized": True, "has_question": False}, "short", "yes", "no"),
        ({"word_count": 90, "personalised": False}, "medium", "no", UNKNOWN),
        ({"word_count": 200, "has_question": "yes"}, "long", UNKNOWN, UNKNOWN),
        ({"length_bucket": "short", "word_count": 300}, "short", UNKNOWN, UNKNOWN),
    ],
)
def test_message_features(details: dict, length: str, personalised: str, question: str) -> None:
    features = feature_table([_row(details)]).features
    assert (features["length"][0], features["personalised"][0], features["question"][0]) == (
        length,
        personalised,
        question,
    )


@pytest.mark.parametrize(
    ("previous", "thread", "spacing"),
    [
        (None, 7, "first"),
        (AT - dt.timedelta(days=61), 7, "first"),  # beyond the lookback
        (AT - dt.timedelta(hours=23), 7, "same_day"),
        (AT - dt.timedelta(days=1), 7, "1-2_days"),
        (AT - dt.timedelta(days=6, hours=23), 7, "3-6_days"),
        (AT - dt.timedelta(days=7), 7, "7+_days"),
        (AT - dt.timedelta(days=2), None, UNKNOWN),  # no thread
    ],
)
def test_follow_up_spacing(previous, thread, spacing: str) -> None:
    table = feature_table([_row({}, previous=previous, thread=thread)])
    assert table.features["follow_up_spacing"][0] == spacing
    assert table.features["agent"][0] == "2"


def test_an_empty_history_is_an_empty_table() -> None:
    table = feature_table([])
    assert table.outcomes.shape == (0,) and table.features["weekday"].shape == (0,)
    assert table.action_ids.dtype == np.int64


def _finding(direction: EffectDirection, ci: tuple[float, float]) -> Finding:
    difference = (ci[0] + ci[1]) / 2
    return Finding(
        "weekday", "tue", 100, 0.3, 0.15, difference, ci, 2.0, 0.01, 0.02, "two_proportion_z",
        None, None, direction, Measure.SUCCESS_RATE, 0.95,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("direction", "ci", "stronger"),
    [
        (EffectDirection.HIGHER, (0.05, 0.25), False),  # the same effect again
        (EffectDirection.HIGHER, (0.10, 0.30), False),  # allows the dismissed 0.10: not clear
        (EffectDirection.HIGHER, (0.11, 0.30), True),  # rules out the dismissed 0.10
        (EffectDirection.LOWER, (-0.20, -0.05), True),  # it turned round: a new finding
    ],
)
def test_a_dismissed_finding_returns_only_when_clearly_stronger(direction, ci, stronger) -> None:
    dismissed = CoachingInsight(direction="higher", difference=0.10)
    assert clearly_stronger(dismissed, _finding(direction, ci)) is stronger
