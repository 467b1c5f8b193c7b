"""The guards of the API: cost budgets, rate limits, depth/alias limits, GET, persisted queries,
introspection in production, and masking of unexpected errors."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import strawberry
from starlette.testclient import TestClient

from backend.app import create_app
from backend.settings import load_settings
from graphql_schema.errors import DomainErrorsAndMasking
from tests.graphql_schema.conftest import _populate

QUERY = "{ viewer { organization { slug } user { email } } }"  # costs 3


@pytest.fixture
def make_client(sqlite_database_url: str) -> Iterator:
    clients = []
    _, tokens = asyncio.run(_populate(sqlite_database_url, load_settings().secret_key))

    def make(**settings) -> tuple[TestClient, dict[str, str]]:
        app = create_app(
            load_settings(database_url=sqlite_database_url, worker_in_process=False, **settings)
        )
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client, {"Authorization": f"Bearer {tokens['rep_a1']}"}

    yield make
    for client in clients:
        client.__exit__(None, None, None)
    from backend.database import create_engine
    from tests.graphql_schema.conftest import _drop

    asyncio.run(_drop(create_engine(sqlite_database_url)))


def post(client: TestClient, headers: dict, query: str, **extra) -> dict:
    response = client.post("/graphql", json={"query": query, **extra}, headers=headers)
    return response.json()


def test_cost_is_reported_and_refunded(make_client) -> None:
    client, headers = make_client()
    body = post(client, headers, QUERY)
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 3 and cost["actualQueryCost"] == 3
    assert cost["maximumAvailable"] == 2000 and cost["currentlyAvailable"] <= 2000


def test_over_budget_executes_nothing(make_client) -> None:
    client, headers = make_client(graphql_cost_budget=2)
    body = post(client, headers, QUERY)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "cost_exceeded"
    assert "query cost 3 exceeds" in body["errors"][0]["message"]


def test_rate_limit_per_principal(make_client) -> None:
    client, headers = make_client(graphql_requests_per_minute=2)
    assert "errors" not in post(client, headers, "{ viewer { role } }")
    assert "errors" not in post(client, headers, "{ viewer { role } }")
    limited = post(client, headers, "{ viewer { role } }")
    assert limited["errors"][0]["extensions"]["code"] == "rate_limited"
    # Another principal (anonymous, by address) has its own allowance.
    assert post(client, {}, "{ health { ok } }")["data"]["health"]["ok"] is True


def test_depth_and_aliases_are_bounded(make_client) -> None:
    client, headers = make_client(graphql_max_depth=2, graphql_max_aliases=2)
    deep = post(client, headers, "{ viewer { user { team { name } } } }")
    assert "exceeds maximum operation depth" in deep["errors"][0]["message"]
    aliased = post(client, headers, "{ a: health { ok } b: health { ok } c: health { ok } }")
    assert "aliases" in aliased["errors"][0]["message"]


def test_queries_over_get_are_refused_unless_enabled(make_client) -> None:
    client, headers = make_client()
    refused = client.get(
        "/graphql",
        params={"query": "{ health { ok } }"},
        headers={**headers, "Accept": "application/json"},
    )
    assert refused.status_code in (400, 405)
    allowed, _ = make_client(graphql_allow_get=True)
    ok = allowed.get(
        "/graphql", params={"query": "{ health { ok } }"}, headers={"Accept": "application/json"}
    )
    assert ok.json()["data"]["health"]["ok"] is True


def test_persisted_queries(make_client, tmp_path) -> None:
    client, headers = make_client()
    query = "{ viewer { role } }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    unknown = client.post("/graphql", json={"extensions": persisted}, headers=headers)
    # Apollo's protocol: a 200 whose error its client reads as "send the text with the hash".
    assert unknown.status_code == 200
    assert unknown.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    first = post(client, headers, query, extensions=persisted)
    assert first["data"]["viewer"]["role"] == "REP"
    by_hash = client.post("/graphql", json={"extensions": persisted}, headers=headers).json()
    assert by_hash["data"]["viewer"]["role"] == "REP"
    wrong = client.post(
        "/graphql", json={"query": "{ health { ok } }", "extensions": persisted}, headers=headers
    )
    assert wrong.status_code == 400
    allowlist = tmp_path / "allow.json"
    allowlist.write_text(json.dumps({digest: query}))
    strict, _ = make_client(graphql_allowlist=str(allowlist))
    assert post(strict, headers, query)["data"]["viewer"]["role"] == "REP"
    assert (
        strict.post("/graphql", json={"query": "{ health { ok } }"}, headers=headers).status_code
        == 403
    )


def test_introspection_is_off_in_production(make_client) -> None:
    client, _ = make_client(env="production", secret_key="p" * 40)
    body = post(client, {}, "{ __schema { types { name } } }")
    assert "introspection" in body["errors"][0]["message"].lower()
    dev, _ = make_client()
    assert post(dev, {}, "{ __schema { queryType { name } } }")["data"]


def test_unexpected_errors_are_masked_with_a_request_id(caplog) -> None:
    @strawberry.type
    class Boom:
        @strawberry.field
        def explode(self) -> int:
            raise RuntimeError("SELECT secret FROM table")

    @dataclass
    class FakeContext:
        request_id: str = "req-42"

    masked_schema = strawberry.Schema(query=Boom, extensions=[DomainErrorsAndMasking])
    result = masked_schema.execute_sync("{ explode }", context_value=FakeContext())
    error = result.errors[0]
    assert error.message == "Unexpected error."
    assert error.extensions == {"code": "internal", "requestId": "req-42"}
    assert "req-42" in caplog.text and "SELECT secret" in caplog.text


def test_parsing_and_validation_are_cached(make_client) -> None:
    from strawberry.extensions.validation_cache import _get_validate_cache

    client, headers = make_client()
    query = "{ viewer { role scopes } }"
    post(client, headers, query)
    before = _get_validate_cache(512).cache_info().hits
    post(client, headers, query)
    post(client, headers, query)
    assert _get_validate_cache(512).cache_info().hits == before + 2
