"""Which days calibration judges: only those whose calibrating outcomes have all matured (a
reply resolves within hours, "no reply" only when its window closes, so open days would look
underconfident)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from backend.outcomes.rules import rules_for

TRAILING_DAYS = 90


def matured_until(config: dict[str, Any] | None, action_type: str, today: dt.date) -> dt.date:
    """The last day whose calibrating outcomes of ``action_type`` have all matured: later days
    are still maturing and are not judged."""
    rules = rules_for(config)
    return rules.last_matured_day(rules.calibrating_plan(action_type).window, today)


def assessment_days(
    config: dict[str, Any] | None, action_type: str, today: dt.date
) -> tuple[dt.date, dt.date]:
    """The trailing window of matured days: ending the day before the calibrating outcome's
    window could still be open, reaching back TRAILING_DAYS from there."""
    until = matured_until(config, action_type, today)
    return until - dt.timedelta(days=TRAILING_DAYS), until
