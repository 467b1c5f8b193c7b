"""Signing in against a real `python -m backend serve` over TCP, on both configurations (SQLite
with the in-process broker, PostgreSQL with Redis), mailing to a real SMTP server (aiosmtpd):
the link from the mail, the confirmation, the cookie for /graphql and for a live subscription
over the WebSocket, CSRF refusals, concurrent redeems of one link, sign-out (which ends the
browser's live subscriptions at once), and the access log, which never holds a link's token.

Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path

import httpx2
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.backend.notifications.conftest import SmtpServer, free_port
from tests.e2e.conftest import (
    SECRET_KEY,
    UNLIMITED,
    Deployment,
    _seed,
    database,
    gid,
)
from tests.e2e.test_subscriptions_ws import (
    POLICY_CHANGED,
    PROTOCOL,
    Live,
    Policies,
    ended_unauthenticated,
    settle,
    warm_up,
)
from tests.servers import running_server

# One worker runs this module's tests: its servers (per database) start once, not once per
# worker that picks up one of its tests.
pytestmark = pytest.mark.xdist_group("e2e-sign_in_http")

VIEWER = "{ viewer { role user { email } } }"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def signing_in(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Deployment, SmtpServer, Path]]:
    """A seeded server (ENV=test: cookies are Secure) that mails over a real SMTP server, and
    the file its output goes to (with the access log: LOG_LEVEL=INFO)."""
    workdir = tmp_path_factory.mktemp(f"sign-in-{request.param}")
    smtp = SmtpServer(free_port())
    smtp.start()
    environment = {
        **UNLIMITED,
        "ENV": "test",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_STARTTLS": "false",
        "LOG_LEVEL": "INFO",
    }
    try:
        with database(request.param, workdir) as (url, redis_url):
            seeded_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
            tokens, seeded = asyncio.run(_seed(url, seeded_at))
            with (
                running_server(
                    url,
                    workdir,
                    secret_key=SECRET_KEY,
                    redis_url=redis_url,
                    environment=environment,
                ) as (base_url, _),
                httpx2.Client(base_url=base_url, timeout=30, follow_redirects=False) as http,
            ):
                deployment = Deployment(
                    request.param, base_url, url, tokens, seeded, http, seeded_at
                )
                port = base_url.rsplit(":", 1)[1]
                yield deployment, smtp, workdir / f"server-{port}.log"  # tests/servers.py
    finally:
        smtp.stop()


def send(
    d: Deployment, method: str, path: str, *, cookie: str | None = None, **kw
) -> httpx2.Response:
    """As a browser on the dashboard's page: its Origin, and exactly the cookie given."""
    headers = {"Origin": d.base_url, **kw.pop("headers", {})}
    if cookie is not None:
        headers["Cookie"] = f"sal_session={cookie}"
    d.http.cookies.clear()
    try:
        return d.http.request(method, path, headers=headers, **kw)
    finally:
        d.http.cookies.clear()


def mailed_token(d: Deployment, smtp: SmtpServer, address: str) -> str:
    """Ask for a link and read its token from the mail (sent after the response: waited for)."""
    before = sum(address in m.recipients for m in smtp.sink.messages)
    asked = send(d, "POST", "/auth/sign-in", data={"email": address})
    assert asked.status_code == 200 and "Check your inbox" in asked.text
    deadline = time.monotonic() + 10
    while (mails := [m for m in smtp.sink.messages if address in m.recipients])[before:] == []:
        assert time.monotonic() < deadline, "no sign-in mail came"
        time.sleep(0.05)
    text = next(p for p in mails[-1].message.walk() if p.get_content_type() == "text/plain")
    [token] = re.findall(r"/auth/link\?token=(\S+)", text.get_payload(decode=True).decode())
    return token


def redeem(d: Deployment, token: str) -> httpx2.Response:
    return send(d, "POST", "/auth/link", data={"token": token})


def cookie_of(response: httpx2.Response) -> SimpleCookie:
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    return cookies


def graphql(d: Deployment, cookie: str, **kw) -> httpx2.Response:
    return send(d, "POST", "/graphql", cookie=cookie, json={"query": VIEWER}, **kw)


@contextmanager
def live_by_cookie(d: Deployment, cookie: str, origin: str | None = None) -> Iterator[Live]:
    with connect(
        d.ws_url,
        subprotocols=[PROTOCOL],
        origin=origin or d.base_url,
        additional_headers={"Cookie": f"sal_session={cookie}"},
        open_timeout=10,
        close_timeout=5,
    ) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        yield Live(ws, "cookie")


def test_a_mailed_link_signs_in_for_graphql_and_the_websocket_until_sign_out(
    signing_in: tuple[Deployment, SmtpServer, Path],
) -> None:
    d, smtp, _ = signing_in
    token = mailed_token(d, smtp, "manager_a@north.example")
    shown = send(d, "GET", f"/auth/link?token={token}")
    assert shown.status_code == 200 and "set-cookie" not in shown.headers
    redeemed = redeem(d, token)
    assert redeemed.status_code == 303 and redeemed.headers["location"] == "/"
    morsel = cookie_of(redeemed)["sal_session"]
    assert morsel["httponly"] and morsel["secure"] and morsel["samesite"].lower() == "lax"
    cookie = morsel.value
    assert redeem(d, token).status_code == 400  # once

    viewer = graphql(d, cookie).json()["data"]["viewer"]
    assert viewer == {"role": "MANAGER", "user": {"email": "manager_a@north.example"}}
    assert send(d, "GET", "/auth/session", cookie=cookie).json()["role"] == "manager"

    # CSRF: another origin, or a form's content type, is refused; a bearer needs no Origin.
    assert graphql(d, cookie, headers={"Origin": "https://evil.example"}).status_code == 403
    form = send(
        d,
        "POST",
        "/graphql",
        cookie=cookie,
        content=json.dumps({"query": VIEWER}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 403
    assert d.data(VIEWER, as_="rep_a1")["viewer"]["role"] == "REP"  # bearer, no Origin

    policies = Policies(d)
    with live_by_cookie(d, cookie) as manager:
        manager.subscribe(POLICY_CHANGED, {"t": "email"})
        warm_up("policyChanged", [(manager, lambda: policies.toggle("rep_a1", as_="manager_a"))])
        policies.toggle("rep_a2", as_="manager_a")
        event = manager.next_event("policyChanged")
        assert event["agentId"] == gid("Agent", d.ids.agents["rep_a2"])
    with pytest.raises(InvalidStatus), live_by_cookie(d, cookie, "https://evil.example"):
        pass

    out = send(d, "POST", "/auth/sign-out", cookie=cookie)
    assert out.status_code == 303 and cookie_of(out)["sal_session"].value == ""
    errors = graphql(d, cookie).json()["errors"]
    assert errors[0]["extensions"]["code"] == "unauthenticated"
    assert send(d, "GET", "/auth/session", cookie=cookie).status_code == 401
    with pytest.raises(ConnectionClosed) as closed, live_by_cookie(d, cookie):
        pass
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


def test_concurrent_redeems_of_one_link_open_one_session(
    signing_in: tuple[Deployment, SmtpServer, Path],
) -> None:
    d, smtp, _ = signing_in
    token = mailed_token(d, smtp, "rep_b1@north.example")
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: redeem_fresh(d, token), range(6)))
    assert sorted(answers) == [303] + [400] * 5


def redeem_fresh(d: Deployment, token: str) -> int:
    """One redeem on its own connection (the deployment's client is not shared by threads)."""
    with httpx2.Client(base_url=d.base_url, timeout=30, follow_redirects=False) as client:
        response = client.post("/auth/link", data={"token": token}, headers={"Origin": d.base_url})
        return response.status_code


def test_the_access_log_never_holds_a_links_token(
    signing_in: tuple[Deployment, SmtpServer, Path],
) -> None:
    d, smtp, log = signing_in
    token = mailed_token(d, smtp, "rep_a2@north.example")
    assert send(d, "GET", f"/auth/link?token={token}").status_code == 200
    assert redeem(d, token).status_code == 303
    assert send(d, "GET", "/reports/unsubscribe?token=unsubscribe-secret").status_code < 500
    # Each line is written (and flushed) before its response is sent.
    written = log.read_text()
    assert '"GET /auth/link?token=[redacted] HTTP/1.1" 200' in written
    assert '"GET /reports/unsubscribe?token=[redacted] HTTP/1.1"' in written
    assert token not in written and "unsubscribe-secret" not in written


def test_signing_out_ends_the_browsers_live_subscriptions_at_once(
    signing_in: tuple[Deployment, SmtpServer, Path],
) -> None:
    """Within a second of the sign-out's answer, not at the next event or periodic re-check;
    the person's other browser goes on."""
    d, smtp, _ = signing_in
    cookies = []
    for _ in range(2):
        redeemed = redeem(d, mailed_token(d, smtp, "exec_n@north.example"))
        assert redeemed.status_code == 303
        cookies.append(cookie_of(redeemed)["sal_session"].value)
    policies = Policies(d)
    with live_by_cookie(d, cookies[0]) as signing_out, live_by_cookie(d, cookies[1]) as other:
        for subscriber in (signing_out, other):
            subscriber.subscribe(POLICY_CHANGED, {"t": "email"})
        warm_up(
            "policyChanged",
            [
                (subscriber, lambda: policies.toggle("rep_a1", as_="manager_a"))
                for subscriber in (signing_out, other)
            ],
        )
        assert send(d, "POST", "/auth/sign-out", cookie=cookies[0]).status_code == 303
        ended_unauthenticated(signing_out, "signed out, or the session expired")
        policy = policies.toggle("rep_b1", as_="exec_n")  # untouched so far: it moves
        assert other.next_event("policyChanged")["policyVersion"] == policy["version"]
        assert settle([signing_out]) == [[]]
