"""The recommendation's evidence in words: the numbers are the engine's, said as a reader
checks them (how often what the agent does alone succeeds, against what its policy asks)."""

from __future__ import annotations

from analytics_engine.strategy import Evidence, Finding
from backend.strategy.wording import reason


def test_the_error_rate_is_said_as_the_success_of_what_the_agent_does_alone() -> None:
    within = Evidence(Finding.ERROR_RATE_WITHIN_TARGET, 0.12, 0.091, 0.149, 0.3)
    assert reason(within) == (
        "Actions it takes alone succeed 88.0% of the time (95% interval 85.1% to 90.9%), "
        "at least the 70.0% its policy requires to act alone."
    )
    above = Evidence(Finding.ERROR_RATE_ABOVE_TARGET, 0.5, 0.4, 0.6, 0.3)
    assert reason(above).endswith("below the 70.0% its policy requires to act alone.")
    unsure = Evidence(Finding.ERROR_RATE_UNCERTAIN, 0.28, 0.2, 0.36, 0.3)
    assert "64.0% to 80.0%" in reason(unsure) and "not shown to reach" in reason(unsure)


def test_lift_is_said_in_points_with_its_interval() -> None:
    better = Evidence(Finding.BETTER_THAN_PEOPLE, 0.033, 0.017, 0.049)
    assert reason(better) == (
        "Success versus people: +3.3 pts (95% interval +1.7 pts to +4.9 pts), above the human "
        "baseline."
    )
