"""Word banks of the demo data: people's names, companies, subjects, message and comment text."""

from __future__ import annotations

FIRST_NAMES = (
    "Avery",
    "Blake",
    "Carmen",
    "Devon",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Imani",
    "Jonas",
    "Keiko",
    "Luis",
    "Maya",
    "Nikhil",
    "Olivia",
    "Priya",
    "Quinn",
    "Rafael",
    "Sofia",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
)
LAST_NAMES = (
    "Adams",
    "Bianchi",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Johansson",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Usman",
    "Varga",
    "Weber",
    "Yilmaz",
    "Zhang",
)

COMPANY_STEMS = (
    "Apex",
    "Bluefin",
    "Cobalt",
    "Driftwood",
    "Ember",
    "Foxglove",
    "Granite",
    "Harbor",
    "Ironleaf",
    "Juniper",
    "Keystone",
    "Lumen",
    "Meridian",
    "Northwind",
    "Orchard",
    "Pinnacle",
    "Quarry",
    "Redwood",
    "Summit",
    "Tidewater",
    "Umbra",
    "Vantage",
    "Willow",
    "Zephyr",
)
COMPANY_SUFFIXES = (
    "Logistics",
    "Health",
    "Analytics",
    "Foods",
    "Robotics",
    "Energy",
    "Media",
    "Labs",
    "Retail",
    "Capital",
    "Systems",
    "Freight",
)
PRODUCTS = ("Platform", "Analytics add-on", "Enterprise licence", "Pilot", "Renewal", "Expansion")

# Contact personas, with the share of contacts that hold each.
PERSONAS = ("economic_buyer", "champion", "technical_evaluator", "end_user")
PERSONA_SHARES = (0.22, 0.26, 0.27, 0.25)

SUBJECTS = (
    "Quick question about {company}'s pipeline",
    "Idea for {company}",
    "Following up on our chat",
    "{company} + Demo Corp",
    "Cutting onboarding time at {company}",
    "Your Q{quarter} priorities",
    "Case study you asked for",
    "Next steps",
)

EMAIL_OPENERS = (
    "Hi {first}, thanks for the time last week.",
    "Hi {first}, I noticed {company} is hiring across the sales team.",
    "Hi {first}, following up on the proposal I sent.",
    "Hi {first}, a quick note after your webinar question.",
    "Hi {first}, circling back on the pilot timeline.",
)
EMAIL_QUESTIONS = (
    " Would Tuesday or Thursday work for a 20-minute call?",
    " Is this still a priority for this quarter?",
    " Who else should be in the room for the next step?",
)
# Reply previews by sentiment (positive, neutral, negative, unknown), as in outcomes.SENTIMENTS.
REPLY_PREVIEWS = (
    (
        "Thanks, Thursday works. Send an invite.",
        "Sounds interesting, what does the pilot involve?",
        "Can you share pricing for 50 seats?",
    ),
    (
        "Looping in our head of ops who owns this.",
        "Not a priority right now, check back in Q{quarter}.",
    ),
    (
        "Not interested, please remove me from your list.",
        "We just signed with another vendor.",
    ),
    (
        "Out of office until Monday, will reply then.",
        "?",
    ),
)

ESCALATION_REASONS = (
    "pricing_exception",
    "legal_review",
    "unhappy_customer",
    "technical_question",
    "competitor_mentioned",
)
MEETING_KINDS = ("discovery", "demo", "pricing_review", "technical_deep_dive")

# Feedback comments by sentiment. Most feedback carries none: a rating is required, text is not.
POSITIVE_COMMENTS = (
    "Great tone, exactly how I'd write it.",
    "Nice, short and to the point.",
    "Good call to escalate this one.",
    "Perfect timing on the follow-up.",
    "Spot on, the stage move was right.",
    "Love the personal touch in the opener.",
)
NEUTRAL_COMMENTS = (
    "Fine, but the subject line could be sharper.",
    "OK overall; I'd have asked for a meeting sooner.",
    "Accurate but a bit long.",
    "Would have waited a day before following up.",
)
NEGATIVE_COMMENTS = (
    "Too pushy for an economic buyer.",
    "Wrong contact, this should go to procurement.",
    "Did not need an escalation, I could have handled it.",
    "Deal was not ready for proposal yet.",
    "Generic message, reads like a template.",
    "Missed the pricing question in their last email.",
)
