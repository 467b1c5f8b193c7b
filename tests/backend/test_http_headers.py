"""Security headers on every answer, gzip for large ones, CORS only for the origins allowed (and
never with credentials: the dashboard's cookie stays on its own origin)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from backend.app import create_app
from backend.http_headers import CONTENT_SECURITY_POLICY, SecurityHeaders
from backend.settings import load_settings

PARTNER = "https://crm.partner.example"


def _client(url: str, **settings: Any) -> TestClient:
    return TestClient(
        create_app(load_settings(database_url=url, worker_in_process=False, **settings))
    )


@pytest.fixture
def client(sqlite_database_url: str) -> Iterator[TestClient]:
    with _client(sqlite_database_url) as c:
        yield c


@pytest.mark.parametrize("path", ["/healthz", "/", "/graphql", "/auth/sign-in", "/nowhere"])
def test_every_answer_carries_the_security_headers(client: TestClient, path: str) -> None:
    headers = client.get(path, headers={"Accept": "text/html"}).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    # Pages with a token in their URL keep their own, stricter policy (same-origin).
    assert headers["referrer-policy"] in ("strict-origin-when-cross-origin", "same-origin")
    # The server's own small pages (sign-in) keep their stricter policy; none may be framed.
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    if path != "/auth/sign-in":
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "strict-transport-security" not in headers  # development: plain HTTP


def test_production_asks_browsers_to_keep_to_https() -> None:
    """Production settings (PostgreSQL, a strong key) are checked elsewhere; here the
    middleware that `ENV=production` turns on."""

    async def ok(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[Route("/", ok)], middleware=[Middleware(SecurityHeaders, strict_transport=True)]
    )
    with TestClient(app) as production:
        headers = production.get("/").headers
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    assert headers["x-frame-options"] == "DENY"


def test_large_answers_are_gzipped_small_ones_not(client: TestClient) -> None:
    script = re.search(r'src="(/assets/[^"]+\.js)"', client.get("/").text)
    assert script is not None
    bundle = client.get(script[1], headers={"Accept-Encoding": "gzip"})
    assert bundle.status_code == 200 and bundle.headers["content-encoding"] == "gzip"
    assert bundle.text.lstrip().startswith(("import", "const", "var", "(", "function", "let"))
    small = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


def test_no_cors_unless_an_origin_is_allowed(client: TestClient) -> None:
    preflight = client.options(
        "/graphql",
        headers={"Origin": PARTNER, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_an_allowed_origin_may_call_with_a_bearer_token_never_with_cookies(
    sqlite_database_url: str,
) -> None:
    with _client(sqlite_database_url, cors_allowed_origins=f"{PARTNER}/, https://b.example") as c:
        preflight = c.options(
            "/graphql",
            headers={
                "Origin": PARTNER,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == PARTNER
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in preflight.headers
        answer = c.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": PARTNER})
        assert answer.headers["access-control-allow-origin"] == PARTNER
        other = c.options(
            "/graphql",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
