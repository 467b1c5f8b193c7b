"""Webhooks go to public addresses only, by default: a URL naming localhost or a literal
private, loopback, link-local (cloud metadata), multicast, reserved or unspecified address is
refused at registration, naming `url` and why; at delivery every address the host resolves to
is checked, so a name resolving (or rebinding) to 127.0.0.1 is refused too: the delivery fails
at once, logged, and the receiver gets nothing. `PARTNER_WEBHOOKS_ALLOW_PRIVATE_URLS` allows
them (the other tests' receiver on 127.0.0.1 runs with it)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging

import pytest
from sqlalchemy import func, select

from backend.errors import DomainError, ErrorCode
from backend.partner_webhooks.addresses import Resolver, host_problem, non_public_kind
from backend.partner_webhooks.delivery import deliver_webhooks
from backend.partner_webhooks.models import WebhookEndpoint
from backend.partner_webhooks.service import EndpointSpec, upsert_endpoint
from backend.settings import load_settings
from backend.unit_of_work import transaction
from tests.backend.conftest import Loop
from tests.backend.partner_webhooks.conftest import Receiver, add_endpoint, private_urls
from tests.backend.partner_webhooks.test_delivery import alert, deliveries
from tests.factories import NOW


def resolver(answers: dict[str, list[str]]) -> Resolver:
    """A stand-in for DNS: ``answers`` by host; any other host is unknown, as in DNS."""

    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"unknown host {host}")
        return answers[host]

    return resolve


async def endpoints(loop: Loop) -> int:
    async with loop.state.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0)


async def register(loop: Loop, url: str, *, allowed: bool) -> None:
    async with transaction(loop.state.sessions) as session:
        await upsert_endpoint(
            session,
            loop.admin,
            EndpointSpec(url=url, event_types=["alert.changed"]),
            secret_key=loop.state.settings.secret_key,
            now=NOW,
            allow_private_urls=allowed,
        )


def test_the_setting_is_off_by_default() -> None:
    assert load_settings().partner_webhooks_allow_private_urls is False
    allowed = load_settings(partner_webhooks_allow_private_urls="true")
    assert allowed.partner_webhooks_allow_private_urls is True


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8080/hook", "loopback address (127.0.0.1)"),
        ("https://127.1/hook", "loopback"),  # the short forms resolvers accept
        ("https://2130706433/hook", "loopback"),
        ("https://0x7f000001/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://localhost:8000/hook", "localhost"),
        ("https://LOCALHOST./hook", "localhost"),
        ("https://api.localhost/hook", "localhost"),
        ("https://10.1.2.3/hook", "private"),
        ("https://172.16.0.1/hook", "private"),
        ("https://192.168.1.20/hook", "private"),
        ("https://[fd00:ec2::254]/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
        ("https://[fe80::1]/hook", "link-local"),
        ("https://224.0.0.251/hook", "multicast"),
        ("https://[ff02::1]/hook", "multicast"),
        ("https://240.0.0.1/hook", "reserved"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://100.64.0.1/hook", "non-global"),  # carrier-grade NAT
    ],
)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # a check before any SQL
async def test_a_private_url_is_refused_at_registration_naming_url_and_why(
    loop: Loop, url: str, why: str
) -> None:
    with pytest.raises(DomainError) as caught:
        await register(loop, url, allowed=False)
    assert caught.value.code is ErrorCode.INVALID and caught.value.field == "url"
    assert why in caught.value.message and "public addresses only" in caught.value.message
    assert await endpoints(loop) == 0
    await register(loop, url, allowed=True)  # the setting allows it
    assert await endpoints(loop) == 1


@pytest.mark.parametrize(
    "url",
    ["https://partner.example/hook", "http://partner.example:8080/hook", "https://93.184.216.34/"],
)
async def test_public_addresses_and_names_are_registered(loop: Loop, url: str) -> None:
    await register(loop, url, allowed=False)
    assert await endpoints(loop) == 1


def test_public_addresses_have_no_objection() -> None:
    for text in ("93.184.216.34", "8.8.8.8", "2001:4860:4860::8888"):
        assert non_public_kind(ipaddress.ip_address(text)) is None, text
    assert host_problem("partner.example") is None
    assert host_problem("localhost.partner.example") is None


async def test_a_name_resolving_to_loopback_is_refused_at_delivery_once_and_logged(
    loop: Loop, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    # Registered while private addresses were allowed; since then they are not.
    port = receiver.server.server_address[1]
    await add_endpoint(loop, f"http://localhost:{port}/hook", ["alert.changed"])
    private_urls(loop, allowed=False)
    await alert(loop)
    with caplog.at_level(logging.WARNING, logger="backend.partner_webhooks.delivery"):
        assert await deliver_webhooks(loop.state, now=NOW) == 0  # the system's resolver
    assert receiver.requests == []
    [row] = await deliveries(loop)
    assert (row.status, row.attempts, row.last_status_code) == ("failed", 1, None)
    assert row.last_error == (
        "refused: localhost resolves to a loopback address; webhooks are sent to public "
        "addresses only"
    )
    assert [e["error"] for e in row.attempt_log] == [row.last_error]
    logged = [r.getMessage() for r in caplog.records]
    assert any(
        f"delivery {row.id}" in m and ("resolves to 127.0.0.1" in m or "resolves to ::1" in m)
        for m in logged
    ), logged
    # Failed at once: no retries, however long the worker runs.
    assert await deliver_webhooks(loop.state, now=NOW + dt.timedelta(days=1)) == 0
    [row] = await deliveries(loop)
    assert row.attempts == 1 and receiver.requests == []


@pytest.mark.parametrize(
    "answers",
    [
        ["127.0.0.1"],  # rebound to loopback after registration
        ["93.184.216.34", "127.0.0.1"],  # one private answer among public ones
        ["169.254.169.254"],
        ["::ffff:127.0.0.1"],
    ],
)
async def test_a_public_name_that_resolves_to_a_private_address_is_refused(
    loop: Loop, receiver: Receiver, answers: list[str]
) -> None:
    port = receiver.server.server_address[1]
    private_urls(loop, allowed=False)
    await add_endpoint(loop, f"http://partner.example:{port}/hook", ["alert.changed"])
    await alert(loop)
    dns = resolver({"partner.example": answers})
    assert await deliver_webhooks(loop.state, now=NOW, resolve=dns) == 0
    assert receiver.requests == []
    [row] = await deliveries(loop)
    assert row.status == "failed" and row.attempts == 1
    assert row.last_error is not None and row.last_error.startswith(
        "refused: partner.example resolves to a "
    )
    assert not any(a in row.last_error for a in answers)  # the address stays in our own log


async def test_the_connection_goes_to_the_checked_address(loop: Loop, receiver: Receiver) -> None:
    """No second lookup after the check: the POST reaches the address the resolver gave (a
    name no real DNS knows), with the name in its Host header."""
    port = receiver.server.server_address[1]
    await add_endpoint(loop, f"http://partner.example:{port}/hook", ["alert.changed"])
    await alert(loop)
    dns = resolver({"partner.example": ["127.0.0.1"]})  # allowed here: the receiver is local
    assert await deliver_webhooks(loop.state, now=NOW, resolve=dns) == 1
    [request] = receiver.requests
    assert request.path == "/hook" and request.headers["host"] == f"partner.example:{port}"


async def test_a_name_that_does_not_resolve_is_retried(loop: Loop, receiver: Receiver) -> None:
    private_urls(loop, allowed=False)
    await add_endpoint(loop, "https://partner.example/hook", ["alert.changed"])
    await alert(loop)
    assert await deliver_webhooks(loop.state, now=NOW, resolve=resolver({})) == 0
    [row] = await deliveries(loop)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error == "OSError: unknown host partner.example"
