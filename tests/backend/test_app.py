"""The HTTP surface of the foundation: probes, the GraphQL health query, the dashboard page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from backend.app import create_app
from backend.settings import load_settings


def _client(**settings: object) -> TestClient:
    return TestClient(create_app(load_settings(**settings)))


@pytest.fixture
def client(sqlite_database_url: str) -> Iterator[TestClient]:
    with _client(database_url=sqlite_database_url) as test_client:
        yield test_client


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz_on_embedded_defaults(client: TestClient) -> None:
    body = client.get("/readyz").json()
    assert body == {
        "status": "ok",
        "database": "ok",
        "broker": "in-process",
        "version": body["version"],
    }


def test_readyz_with_redis(database_url: str, redis_url: str) -> None:
    with _client(database_url=database_url, redis_url=redis_url) as test_client:
        response = test_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["broker"] == "ok"


def test_readyz_reports_an_unreachable_broker(sqlite_database_url: str) -> None:
    with _client(
        database_url=sqlite_database_url, redis_url="redis://127.0.0.1:1/0"
    ) as test_client:
        response = test_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["database"] == "ok"
    assert body["broker"].startswith("unreachable")


def test_readyz_reports_an_unreachable_database() -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"
    with _client(database_url=url) as test_client:
        response = test_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("unreachable")


def test_graphql_health_query(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": "{ health { ok database broker } }"})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"health": {"ok": True, "database": "ok", "broker": "in-process"}}
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1


def test_dashboard_page_is_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    # the built dashboard (frontend_stub/dist): its shell, and the script it loads, served here
    assert '<div id="app">' in page.text and "<title>Sales Agent Learning</title>" in page.text
    scripts = re.findall(r'<script type="module" crossorigin src="(/assets/[^"]+\.js)"', page.text)
    assert scripts and all(client.get(path).status_code == 200 for path in scripts)
    assert "http" not in "".join(re.findall(r'(?:src|href)="([^"]+)"', page.text))


def test_graphiql_is_served_from_the_app_not_a_cdn(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/graphiql/") for a in assets)
    assert all(client.get(a).status_code == 200 for a in assets)
