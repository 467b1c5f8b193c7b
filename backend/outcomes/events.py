"""What the outcomes domain tells the rest after commit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class OutcomeResolved:
    """An outcome was decided (by a signal, a person or its window closing), or corrected."""

    organization_id: int
    outcome_id: int
    action_id: int
    agent_id: int
    action_type: str
    outcome_type: str
    calibrates: bool  # it is the outcome the action type's calibration counts
    at: dt.datetime  # the unit of work's time (the request's or the job's now)
