"""Coaching insights in words: the backend writes from the engine's numbers the sentences the
engine used to write itself (the expected strings were produced by it)."""

from __future__ import annotations

import numpy as np

from analytics_engine.coaching import find_insights
from backend.coaching.wording import insight_statement


def _replies() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    day = rng.choice(["Mon", "Tue", "Wed"], size=3000)
    return day, rng.random(3000) < np.where(day == "Tue", 0.20, 0.10)


def test_success_rates_in_points_with_the_interval_and_support() -> None:
    day, replied = _replies()
    top = find_insights({"weekday": day}, replied).insights[0]
    assert insight_statement(
        top, feature_phrases={"weekday": "Emails sent on {value}"}, outcome_phrase="get replies"
    ) == (
        "Emails sent on Tue get replies 20.9% of the time vs 10.7% otherwise "
        "(+10.2 pts, 95% CI +7.4 to +13.2; n=995)."
    )


def test_default_subject_lower_rates_and_the_confidence_level() -> None:
    day, replied = _replies()
    report = find_insights({"weekday": day}, replied, fdr=1.0, alpha=0.1)
    assert [insight_statement(i) for i in report.insights] == [
        "Actions with weekday = Tue succeed 20.9% of the time vs 10.7% otherwise "
        "(+10.2 pts, 90% CI +7.9 to +12.7; n=995).",
        "Actions with weekday = Wed succeed 10.1% of the time vs 16.2% otherwise "
        "(-6.1 pts, 90% CI -8.1 to -4.0; n=1043).",
        "Actions with weekday = Mon succeed 11.3% of the time vs 15.4% otherwise "
        "(-4.0 pts, 90% CI -6.1 to -1.8; n=962).",
    ]


def test_graded_outcomes_read_as_means_on_the_unit_scale() -> None:
    rng = np.random.default_rng(4)
    stage = rng.choice(["discovery", "proposal", "negotiation"], size=900)
    y = np.clip(rng.normal(0.5 + 0.1 * (stage == "proposal"), 0.2), 0, 1)
    report = find_insights({"deal_stage": stage}, y, fdr=1.0)
    assert [insight_statement(i) for i in report.insights] == [
        "Actions with deal_stage = proposal average an outcome of 0.58 (0-1 scale) vs 0.50 "
        "otherwise (+0.08, 95% CI +0.05 to +0.11; n=273).",
        "Actions with deal_stage = discovery average an outcome of 0.49 (0-1 scale) vs 0.55 "
        "otherwise (-0.05, 95% CI -0.08 to -0.03; n=299).",
        "Actions with deal_stage = negotiation average an outcome of 0.51 (0-1 scale) vs 0.54 "
        "otherwise (-0.02, 95% CI -0.05 to +0.00; n=328).",
    ]
