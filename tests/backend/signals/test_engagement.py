"""Human opens: each rule that tells software's opens and clicks from people's, pinned on a
hand-picked case; the payload key that carries the user agent; the `machine` flag and the
`email_engagement` rollup kept as signals are stored (a retry counts once, concurrent batches
lose nothing), equal to its rebuild from the signals."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from backend.errors import InvalidInput
from backend.learning import submit_signals
from backend.signals.engagement import (
    PREFETCH_SECONDS,
    RULES,
    TOO_SOON,
    is_machine,
    machine_rule,
)
from backend.signals.engagement_rollup import rebuild
from backend.signals.models import EmailEngagement, Signal, SignalKind
from backend.signals.payloads import payload_problems
from backend.unit_of_work import transaction
from tests.backend.conftest import T0
from tests.backend.signals.test_service import send_email, signal

OPEN, CLICK = "email.opened", "email.clicked"
IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


# -- the rules, one hand-picked case each --------------------------------------------------


def test_apple_mail_privacy_protection_preloads_are_machine_opens() -> None:
    assert (
        machine_rule(OPEN, user_agent="Mozilla/5.0", seconds_after_delivery=3600)
        == "apple_mail_privacy_protection"
    )
    assert machine_rule(OPEN, user_agent=" Mozilla/5.0 ", seconds_after_delivery=None) == (
        "apple_mail_privacy_protection"
    )


@pytest.mark.parametrize(
    ("kind", "user_agent"),
    [
        (CLICK, "Mimecast URL Protect/1.0"),
        (CLICK, "Mozilla/5.0 (compatible; Proofpoint URL Defense)"),
        (OPEN, "Barracuda Sentinel (EE)"),
        (CLICK, "Microsoft SafeLinks scanner"),
    ],
)
def test_security_scanners_open_and_click_by_machine(kind: str, user_agent: str) -> None:
    assert machine_rule(kind, user_agent=user_agent, seconds_after_delivery=600) == (
        "security_scanner"
    )


@pytest.mark.parametrize(
    "user_agent",
    [
        "python-requests/2.32.3",
        "curl/8.5.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/126.0 Safari/537.36",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    ],
)
def test_bots_headless_browsers_and_http_libraries_are_machines(user_agent: str) -> None:
    assert machine_rule(CLICK, user_agent=user_agent, seconds_after_delivery=600) == (
        "automated_client"
    )


def test_an_open_two_seconds_after_delivery_is_a_machine_whatever_its_user_agent() -> None:
    assert machine_rule(OPEN, user_agent=OUTLOOK, seconds_after_delivery=2) == TOO_SOON
    assert machine_rule(CLICK, user_agent=None, seconds_after_delivery=2) == TOO_SOON


def test_the_threshold_is_ten_seconds() -> None:
    assert PREFETCH_SECONDS == 10
    assert is_machine(OPEN, user_agent=None, seconds_after_delivery=9.999)
    assert not is_machine(OPEN, user_agent=None, seconds_after_delivery=10.0)


@pytest.mark.parametrize("user_agent", [IPHONE_MAIL, GMAIL_PROXY, OUTLOOK, CHROME, None, ""])
def test_genuine_opens_and_clicks_are_human(user_agent: str | None) -> None:
    """Gmail's image proxy fetches when the message is opened (and caches after): a person."""
    for kind in (OPEN, CLICK):
        assert machine_rule(kind, user_agent=user_agent, seconds_after_delivery=300) is None


def test_other_kinds_are_never_machines() -> None:
    for kind in SignalKind:
        if kind.value not in (OPEN, CLICK):
            assert not is_machine(kind.value, user_agent="curl/8.5.0", seconds_after_delivery=0)


def test_every_rule_is_named_explained_and_recognises_something() -> None:
    names = [r.name for r in RULES]
    assert len(set(names)) == len(names) and TOO_SOON not in names
    for rule in RULES:
        assert rule.why and rule.kinds and (rule.exact or rule.fragments)
        assert all(f == f.lower() for f in (*rule.exact, *rule.fragments))


@given(
    user_agent=st.one_of(st.none(), st.text(max_size=60)),
    seconds=st.floats(min_value=-1e6, max_value=1e7, allow_nan=False),
    kind=st.sampled_from([OPEN, CLICK]),
)
def test_too_soon_overrides_and_case_does_not_matter(
    user_agent: str | None, seconds: float, kind: str
) -> None:
    found = machine_rule(kind, user_agent=user_agent, seconds_after_delivery=seconds)
    if seconds < PREFETCH_SECONDS:
        assert found == TOO_SOON
    else:
        assert found == machine_rule(kind, user_agent=user_agent, seconds_after_delivery=None)
        if user_agent is not None:
            for variant in (user_agent.upper(), user_agent.lower()):
                if variant.lower() == user_agent.lower():  # some characters change length
                    assert found == machine_rule(
                        kind, user_agent=variant, seconds_after_delivery=None
                    )


# -- payloads --------------------------------------------------------------------------------


def test_user_agent_is_a_key_of_opens_and_clicks_only() -> None:
    assert payload_problems(OPEN, {"user_agent": CHROME}) == []
    assert payload_problems(CLICK, {"url": "https://x.test", "user_agent": CHROME}) == []
    assert payload_problems(OPEN, {"user_agent": 3}) == [("user_agent", "must be a string")]
    assert payload_problems(OPEN, {"ip": "17.0.0.1"}) == [
        ("ip", "is not a key of email.opened; its keys: user_agent")
    ]
    assert payload_problems("email.bounced", {"user_agent": CHROME}) == [
        ("user_agent", "is not a key of email.bounced; its keys: bounce_type")
    ]


# -- stored: the machine flag and the rollup --------------------------------------------------


def agent_of(loop) -> int:
    (agent_id,) = loop.agent.agent_ids
    return agent_id


async def engagement_rows(loop) -> list[tuple[int, dt.date, int, int, int, int]]:
    e = EmailEngagement
    async with loop.state.sessions() as session:
        rows = await session.execute(
            select(
                e.agent_id, e.day, e.opens, e.machine_opens, e.clicks, e.machine_clicks
            ).order_by(e.agent_id, e.day)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_stored_opens_are_marked_and_counted_once_per_retry(loop) -> None:
    await send_email(loop, "h1")
    ref = {"message_external_id": "<h1@mail>"}
    batch = [
        signal(
            OPEN,
            "o-proxy",
            at=dt.timedelta(minutes=5),
            payload={"user_agent": "Mozilla/5.0"},
            **ref,
        ),
        signal(OPEN, "o-soon", at=dt.timedelta(seconds=2), **ref),
        signal(OPEN, "o-human", at=dt.timedelta(hours=2), payload={"user_agent": OUTLOOK}, **ref),
        signal(
            CLICK,
            "c-scan",
            at=dt.timedelta(minutes=1),
            payload={"url": "https://x.test", "user_agent": "Mimecast URL Protect"},
            **ref,
        ),
        signal(CLICK, "c-human", at=dt.timedelta(hours=3), payload={"user_agent": CHROME}, **ref),
        signal(OPEN, "o-next-day", at=dt.timedelta(days=1), payload={"user_agent": CHROME}, **ref),
        # not matched to any e-mail: stored, classified by its user agent, counted nowhere
        signal(OPEN, "o-unknown", payload={"user_agent": "Mozilla/5.0"}, message_external_id="<x>"),
    ]
    now = T0 + dt.timedelta(days=2)
    first = await submit_signals(loop.state, loop.agent, batch, now=now)
    again = await submit_signals(loop.state, loop.agent, batch[:3], now=now)  # a retry
    assert (first.stored, again.stored, again.duplicates) == (7, 0, 3)
    async with loop.state.sessions() as session:
        flags = {k: v for k, v in await session.execute(select(Signal.external_id, Signal.machine))}
    assert flags == {
        "o-proxy": True,
        "o-soon": True,
        "o-human": False,
        "c-scan": True,
        "c-human": False,
        "o-next-day": False,
        "o-unknown": True,
    }
    agent_id = agent_of(loop)
    day = T0.date()
    assert await engagement_rows(loop) == [
        (agent_id, day, 3, 2, 2, 1),
        (agent_id, day + dt.timedelta(days=1), 1, 0, 0, 0),
    ]
    live = await engagement_rows(loop)
    async with transaction(loop.state.sessions) as session:
        for statement in rebuild(session.bind.dialect.name):
            await session.execute(statement)
    assert await engagement_rows(loop) == live


async def test_a_refused_batch_counts_nothing(loop) -> None:
    await send_email(loop, "h2")
    batch = [
        signal(OPEN, "ok", message_external_id="<h2@mail>", payload={"user_agent": "Mozilla/5.0"}),
        signal(OPEN, "bad", message_external_id="<h2@mail>", payload={"agent": "x"}),
    ]
    with pytest.raises(InvalidInput) as refused:
        await submit_signals(loop.state, loop.agent, batch, now=T0 + dt.timedelta(days=1))
    assert [e.field for e in refused.value.errors] == ["signals[1].payload.agent"]
    assert await engagement_rows(loop) == []
    async with loop.state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Signal)) == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_concurrent_batches_lose_no_open(loop) -> None:
    await send_email(loop, "h3")

    async def send(i: int) -> None:
        opens = [
            signal(
                OPEN,
                f"c{i}-{j}",
                at=dt.timedelta(minutes=10 + j),
                message_external_id="<h3@mail>",
                payload={"user_agent": "Mozilla/5.0" if j % 2 else CHROME},
            )
            for j in range(4)
        ]
        await submit_signals(loop.state, loop.agent, opens, now=T0 + dt.timedelta(days=1))

    await asyncio.gather(*(send(i) for i in range(8)))
    assert await engagement_rows(loop) == [(agent_of(loop), T0.date(), 32, 16, 0, 0)]
