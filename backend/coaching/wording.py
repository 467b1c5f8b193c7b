"""A coaching insight in words, for a manager: written from the numbers
``analytics_engine.coaching.find_insights`` returns (the engine returns no prose)."""

from __future__ import annotations

from collections.abc import Mapping

from analytics_engine.coaching import CoachingInsight, Measure

DEFAULT_SUBJECT = "Actions with {feature} = {value}"


def insight_statement(
    insight: CoachingInsight,
    *,
    feature_phrases: Mapping[str, str] | None = None,
    outcome_phrase: str = "succeed",
) -> str:
    """One line: who does how well against the rest, by how much, how sure and on how many.

    ``feature_phrases`` maps a feature to a template for the subject, with ``{value}`` and
    ``{feature}``, e.g. ``{"weekday": "Emails sent on {value}"}`` gives "Emails sent on Tue get
    replies 20.9% of the time vs 10.7% otherwise (+10.2 pts, 95% CI +7.4 to +13.2; n=995)."
    with ``outcome_phrase="get replies"``.
    """
    template = (feature_phrases or {}).get(insight.feature, DEFAULT_SUBJECT)
    subject = template.format(feature=insight.feature, value=insight.value)
    level = f"{insight.confidence_level:.0%} CI"
    rate, rest, (lower, upper) = insight.rate, insight.rest_rate, insight.ci
    if insight.measure is Measure.SUCCESS_RATE:
        return (
            f"{subject} {outcome_phrase} {rate:.1%} of the time vs {rest:.1%} otherwise "
            f"({100 * (rate - rest):+.1f} pts, {level} {100 * lower:+.1f} to "
            f"{100 * upper:+.1f}; n={insight.support})."
        )
    return (
        f"{subject} average an outcome of {rate:.2f} (0-1 scale) vs {rest:.2f} otherwise "
        f"({rate - rest:+.2f}, {level} {lower:+.2f} to {upper:+.2f}; n={insight.support})."
    )
