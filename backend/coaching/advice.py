"""What a coaching insight says in words: the subject of its statement (for
``wording.insight_statement``) and the advice it gives its audience, from the engine's numbers.

What works for the agent becomes advice for the human reps (send time, length, personalisation,
a question, follow-up spacing); an agent apart from its team is its manager's to look into.
"""

from __future__ import annotations

from collections.abc import Mapping

from analytics_engine.coaching import CoachingInsight, EffectDirection, Measure
from backend.coaching.models import InsightAudience
from backend.coaching.samples import HUMAN_RATING

DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
SEND_TIME_NAMES = {
    "early": "early morning (before 9:00)",
    "morning": "morning (9:00-12:00)",
    "midday": "middle of the day (12:00-14:00)",
    "afternoon": "afternoon (14:00-17:00)",
    "evening": "evening (from 17:00)",
}
LENGTH_NAMES = {
    "short": "short (under 90 words)",
    "medium": "medium-length (90-199 words)",
    "long": "long (200 words or more)",
}
SPACING_NAMES = {
    "first": "as the first touch on a thread",
    "same_day": "on the same day as the previous touch",
    "1-2_days": "1-2 days after the previous touch",
    "3-6_days": "3-6 days after the previous touch",
    "7+_days": "7 or more days after the previous touch",
}
# Per outcome type: how its statement says success, and what a success is called.
OUTCOME_PHRASES = {
    "email_reply": ("get a reply", "replies"),
    "meeting_attendance": ("are attended", "attended meetings"),
    "deal_progression": ("move the deal", "deal progress"),
    "escalation_quality": ("are judged good escalations", "escalation quality"),
    HUMAN_RATING: ("are rated well", "people's ratings"),
}


def outcome_phrase(outcome_type: str) -> str:
    return OUTCOME_PHRASES.get(outcome_type, ("succeed", ""))[0]


def audience(feature: str, outcome_type: str) -> InsightAudience:
    """Reps get what they can do themselves; an agent apart from its team, and how people rate
    the agent's work, are for the manager."""
    if feature == "agent" or outcome_type == HUMAN_RATING:
        return InsightAudience.MANAGER
    return InsightAudience.REP


def subject(feature: str, value: str, *, agent_names: Mapping[str, str]) -> str:
    """The statement's subject, e.g. "Actions on Tuesday"."""
    match feature:
        case "weekday":
            return f"Actions on {DAY_NAMES.get(value, value)}"
        case "send_time":
            return f"Actions in the {SEND_TIME_NAMES.get(value, value)}"
        case "length":
            return f"{LENGTH_NAMES.get(value, value).capitalize()} messages"
        case "personalised":
            return "Personalised messages" if value == "yes" else "Messages not personalised"
        case "question":
            return "Messages asking a question" if value == "yes" else "Messages without a question"
        case "follow_up_spacing":
            return f"Actions {SPACING_NAMES.get(value, value)}"
        case "agent":
            return f"Actions of {agent_names.get(value, 'agent ' + value)}"
    return f"Actions with {feature} = {value}"


def _how_much(insight: CoachingInsight, outcome_type: str) -> str:
    noun = OUTCOME_PHRASES.get(outcome_type, ("", "successes"))[1] or "successes"
    if insight.measure is Measure.SUCCESS_RATE:
        return f"{noun} {insight.rate:.1%} vs {insight.rest_rate:.1%} for the rest"
    return f"{noun} average {insight.rate:.2f} vs {insight.rest_rate:.2f} (0-1 scale)"


def _rep_advice(feature: str, value: str, higher: bool) -> str:
    match feature:
        case "weekday":
            day = DAY_NAMES.get(value, value)
            return f"Send on {day} when you can" if higher else f"Avoid sending on {day}"
        case "send_time":
            when = SEND_TIME_NAMES.get(value, value)
            return f"Send in the {when}" if higher else f"Avoid sending in the {when}"
        case "length":
            size = LENGTH_NAMES.get(value, value)
            return f"Keep messages {size}" if higher else f"Avoid {size} messages"
        case "personalised":
            if (value == "yes") == higher:
                return "Personalise each message to the contact"
            return "Personalisation is not paying off here: check what is being personalised"
        case "question":
            if (value == "yes") == higher:
                return "End with one clear question"
            return "Questions are not helping here: make the ask a statement"
        case "follow_up_spacing":
            when = SPACING_NAMES.get(value, value)
            return f"Follow up {when}" if higher else f"Avoid following up {when}"
    return f"{'Prefer' if higher else 'Avoid'} {feature} = {value}"


def advice(insight: CoachingInsight, *, outcome_type: str, agent_names: Mapping[str, str]) -> str:
    """One sentence for the insight's audience: what to do, and the numbers behind it."""
    higher = insight.direction is EffectDirection.HIGHER
    numbers = _how_much(insight, outcome_type)
    if insight.feature == "agent":
        name = agent_names.get(insight.value, f"agent {insight.value}")
        if higher:
            return (
                f"{name} does better than the rest of the team ({numbers}): ask its rep what "
                "they do differently and share it with the team."
            )
        return (
            f"{name} trails the rest of the team ({numbers}): review its recent threads with "
            "its rep."
        )
    if outcome_type == HUMAN_RATING:
        what = subject(insight.feature, insight.value, agent_names=agent_names)
        verdict = "better" if higher else "worse"
        return (
            f"People rate the agent's work {verdict} here: {what.lower()} ({numbers}). "
            "Discuss with the team whether the agent should do more or less of it."
        )
    return f"{_rep_advice(insight.feature, insight.value, higher)}: {numbers}."
