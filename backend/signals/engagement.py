"""Whether an e-mail open or click was made by a person or by software: a pure classification
of one signal from the user agent its provider saw and the seconds since the e-mail was sent.

Software opens and clicks are real requests for the tracking pixel or the tracked link, made
without anyone reading: Apple Mail Privacy Protection preloads every image of a message as it
reaches the device, security gateways fetch images and follow every link to check them, bots
and HTTP libraries do what they are told. They are kept (``Signal.machine``) but the dashboards
count "human opens" and "human clicks" without them. This is an estimate: a proxy that sends an
ordinary browser's user agent and waits longer than ``PREFETCH_SECONDS`` passes for a person,
and a person behind Apple's proxy is never seen at all (docs/analytics.md, "Human opens").

The rules are a small table (``RULES``): each names itself, the kinds it applies to, and the
user agents it recognises (a whole user agent, or lower-case fragments of one), with why.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.signals.models import SignalKind

OPEN, CLICK = SignalKind.EMAIL_OPENED.value, SignalKind.EMAIL_CLICKED.value
ENGAGEMENT_KINDS = (OPEN, CLICK)

# A person cannot read (let alone click) an e-mail within 10 s of its sending: the message
# still has to cross the mail servers (commonly a few seconds), reach a client, be noticed and
# be opened. Gateways scanning at delivery and prefetching clients act within that time. The
# margin is wide enough for a few seconds of transit and clock skew between the agent's clock
# and the provider's, and narrow enough to leave a fast reader (tens of seconds) a person.
PREFETCH_SECONDS = 10.0
TOO_SOON = "too_soon_after_delivery"


@dataclass(frozen=True)
class MachineRule:
    """User agents of one kind of software: ``exact`` whole user agents (after trimming) or
    ``fragments`` found in the lower-cased user agent."""

    name: str
    kinds: tuple[str, ...]
    why: str
    exact: tuple[str, ...] = ()
    fragments: tuple[str, ...] = ()

    def matches(self, kind: str, user_agent: str) -> bool:
        if kind not in self.kinds:
            return False
        lowered = user_agent.strip().lower()
        return lowered in self.exact or any(f in lowered for f in self.fragments)


RULES: tuple[MachineRule, ...] = (
    MachineRule(
        "apple_mail_privacy_protection",
        (OPEN,),
        "Apple Mail with Mail Privacy Protection preloads a message's images through Apple's "
        "relay when it reaches the device, read or not, sending the bare user agent "
        "'Mozilla/5.0' (no browser, no system). A later real read is served from its cache "
        "and never seen.",
        exact=("mozilla/5.0",),
    ),
    MachineRule(
        "security_scanner",
        ENGAGEMENT_KINDS,
        "Mail security gateways fetch images and follow every link of incoming mail to check "
        "it before (or as) it is delivered: Barracuda, Mimecast, Proofpoint, Microsoft "
        "Defender Safe Links, Symantec MessageLabs, Cisco IronPort, Sophos, Forcepoint, "
        "Fortinet.",
        fragments=(
            "barracuda",
            "mimecast",
            "proofpoint",
            "safelinks",
            "safe links",
            "messagelabs",
            "ironport",
            "sophos",
            "forcepoint",
            "fortiguard",
        ),
    ),
    MachineRule(
        "automated_client",
        ENGAGEMENT_KINDS,
        "Crawlers, link previewers, headless browsers and HTTP libraries: no person reads "
        "through them.",
        fragments=(
            "bot/",
            "bot-",
            "bot;",
            "bot.html",
            "crawler",
            "spider",
            "headless",
            "phantomjs",
            "facebookexternalhit",
            "python-requests",
            "python-urllib",
            "aiohttp",
            "httpx",
            "curl/",
            "wget/",
            "go-http-client",
            "java/",
            "okhttp",
            "apache-httpclient",
            "libwww-perl",
            "node-fetch",
            "axios/",
            "scrapy",
        ),
    ),
)


def machine_rule(
    kind: str, *, user_agent: str | None, seconds_after_delivery: float | None
) -> str | None:
    """The name of the first rule by which software made this open or click, or None when a
    person may have (also None for other kinds). Unknown facts (no user agent, an e-mail whose
    sending is unknown) accuse nobody.

    >>> machine_rule("email.opened", user_agent="Mozilla/5.0", seconds_after_delivery=600)
    'apple_mail_privacy_protection'
    >>> machine_rule("email.clicked", user_agent=None, seconds_after_delivery=2)
    'too_soon_after_delivery'
    >>> machine_rule("email.opened", user_agent="Microsoft Office/16.0", seconds_after_delivery=90)
    """
    if kind not in ENGAGEMENT_KINDS:
        return None
    if seconds_after_delivery is not None and seconds_after_delivery < PREFETCH_SECONDS:
        return TOO_SOON
    if user_agent:
        for rule in RULES:
            if rule.matches(kind, user_agent):
                return rule.name
    return None


def is_machine(kind: str, *, user_agent: str | None, seconds_after_delivery: float | None) -> bool:
    """Whether software made this open or click (``machine_rule`` found one)."""
    return (
        machine_rule(kind, user_agent=user_agent, seconds_after_delivery=seconds_after_delivery)
        is not None
    )
