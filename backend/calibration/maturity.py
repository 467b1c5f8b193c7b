"""Which days calibration judges: only those whose calibrating outcomes have all matured (a
reply resolves within hours, "no reply" only when its window closes, so open days would look
underconfident)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from backend.outcomes.rules import rules_for

TRAILING_DAYS = 90


def assessment_days(
    config: dict[str, Any] | None, action_type: str, today: dt.date
) -> tuple[dt.date, dt.date]:
    """The trailing window of matured days: ending the day before the calibrating outcome's
    window could still be open, reaching back TRAILING_DAYS from there."""
    rules = rules_for(config)
    until = rules.last_matured_day(rules.calibrating_plan(action_type).window, today)
    return until - dt.timedelta(days=TRAILING_DAYS), until
