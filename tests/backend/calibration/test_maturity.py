"""Calibration judges only matured days: the window ends the day before the calibrating
outcome's window could still be open, and reaches back TRAILING_DAYS. Worked by hand from the
default rules (docs/learning-loop.md: e-mail replies wait 7 days)."""

from __future__ import annotations

import datetime as dt

from backend.calibration.maturity import TRAILING_DAYS, assessment_days

TODAY = dt.date(2031, 3, 20)  # any day: nothing here reads the calendar


def test_email_waits_out_its_seven_day_reply_window() -> None:
    # A 7-day window of an action taken on 03-12 may still be open on 03-19; 03-12's actions
    # all closed by 03-19 at the latest: judged up to 03-12 (today - 7 - 1).
    since, until = assessment_days(None, "email", TODAY)
    assert until == dt.date(2031, 3, 12)
    assert since == until - dt.timedelta(days=TRAILING_DAYS) == dt.date(2030, 12, 12)


def test_an_organisations_window_lengths_move_the_matured_days() -> None:
    whole_days = {"outcome_windows": {"engagement_7d": {"hours": 120}}}  # 5 days
    assert assessment_days(whole_days, "email", TODAY)[1] == dt.date(2031, 3, 14)
    # A window that ends part-way through a day needs one more day to have closed everywhere.
    part_days = {"outcome_windows": {"engagement_7d": {"hours": 30}}}  # 1 day 6 hours
    assert assessment_days(part_days, "email", TODAY)[1] == dt.date(2031, 3, 17)
