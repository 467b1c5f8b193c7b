"""The dashboards' calibration panel says plainly when outcomes are still maturing: how many,
and by when a verdict can come; never "no outcomes" beside hundreds."""

from __future__ import annotations

import datetime as dt

import numpy as np

from analytics_engine.calibration import STAT_FIELDS, CalibrationStats
from analytics_engine.verdict import MIN_OUTCOMES
from backend.analytics.tally import Tally, _calibration
from backend.calibration.models import CALIBRATION_BINS

BY = dt.date(2027, 1, 7)


def _stats(n: int, p: float = 0.8, rate: float = 0.5) -> np.ndarray:
    ys = [1.0] * int(n * rate) + [0.0] * (n - int(n * rate))
    stats = CalibrationStats.from_arrays([p] * n, ys, n_bins=CALIBRATION_BINS)
    return np.stack([stats.field(name) for name in STAT_FIELDS])


def _panel(matured: int, maturing: int) -> tuple:
    tally = Tally()
    if matured:
        tally.calibration[("meeting", True)] = _stats(matured)
    if maturing:
        tally.calibration[("meeting", False)] = _stats(maturing)
    (row,) = _calibration(tally, lambda action_type: BY)
    return row


def test_enough_maturing_outcomes_give_the_date_of_a_verdict() -> None:
    row = _panel(0, 646)
    assert (row.verdict, row.matured_outcomes, row.maturing_outcomes) == (
        "insufficient_data",
        0,
        646,
    )
    assert row.verdict_expected_by == BY
    assert row.verdict_reason.startswith("646 outcomes are still maturing")
    assert "2027-01-07" in row.verdict_reason and "No outcomes yet" not in row.verdict_reason


def test_too_few_even_once_matured_say_so() -> None:
    row = _panel(10, MIN_OUTCOMES - 20)
    assert row.verdict_expected_by is None
    assert "not enough even once these mature" in row.verdict_reason


def test_a_verdict_on_matured_outcomes_is_left_as_it_is() -> None:
    row = _panel(400, 50)
    assert row.verdict != "insufficient_data" and row.verdict_expected_by is None
    assert row.maturing_outcomes == 50 and "maturing" not in row.verdict_reason
