"""The daily rollups the dashboards read, each kept by its own domain next to the rows it sums
(actions, outcomes, ratings, deal signals, e-mail opens and clicks; the calibration rollup per
team, from the one per agent, which the engine's contributions fill): ``rebuild_all``
recomputes them all from those rows, for the demo seed and the test factories, which write
rows in bulk."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Delete, Insert

from backend.actions import rollup as actions
from backend.calibration import rollup as calibration
from backend.feedback import rollup as feedback
from backend.outcomes import rollup as outcomes
from backend.signals import engagement_rollup as engagement
from backend.signals import rollup as signals

REBUILDS: tuple[Callable[[str], tuple[Delete, Insert]], ...] = (
    actions.rebuild,
    outcomes.rebuild,
    feedback.rebuild,
    feedback.rebuild_rework,
    signals.rebuild,
    engagement.rebuild,
    calibration.rebuild_teams,
)


def rebuild_all(dialect: str) -> list[Delete | Insert]:
    """Every statement that recomputes the rollups, in order (run them in one transaction)."""
    return [statement for rebuild in REBUILDS for statement in rebuild(dialect)]
