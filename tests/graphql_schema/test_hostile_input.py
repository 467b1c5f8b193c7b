"""Hostile input gets a coded 4xx answer, never a 500 nor the masked "Unexpected error.":
bodies too large or too deep, bodies that are no GraphQL request, tokens, ids, cursors, dates
and strings no client of ours would send (issue #16). Each class is pinned by a test, and a
property-based fuzzer over the same classes keeps them closed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from backend.app import create_app
from backend.auth.tokens import TOKEN_ISSUER
from backend.settings import DEVELOPMENT_SECRET_KEY, load_settings

MASKED = "Unexpected error."
LIMIT = 1024 * 1024  # the default limit of bodies, /graphql's and the webhooks'


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """The real app on each database, with its default limits, and no world (nothing is read)."""
    settings = load_settings(database_url=database_url, worker_in_process=False)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def graphql_errors(response: Any) -> list[dict[str, Any]]:
    """The errors of a refused request, each with a code (and never the masked message)."""
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    errors = response.json()["errors"]
    assert errors, response.text
    for error in errors:
        assert error["message"] != MASKED, response.text
        assert error["extensions"]["code"], response.text
    return list(errors)


# Request bodies bounded -------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_from_its_content_length(client: TestClient) -> None:
    body = b'{"query": "{ __typename }", "pad": "' + b"x" * LIMIT + b'"}'
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert [e["extensions"]["code"] for e in graphql_errors(response)] == ["payload_too_large"]


def test_a_streamed_body_is_cut_off_once_it_passes_the_limit(client: TestClient) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield b'{"query": "{ __typename }", "pad": "'
        for _ in range(1100):
            sent.append(1)
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert [e["extensions"]["code"] for e in graphql_errors(response)] == ["payload_too_large"]


def test_a_webhook_body_over_the_limit_is_refused_with_a_code(client: TestClient) -> None:
    for path in ("/webhooks/email-events", "/webhooks/slack/interactions", "/auth/sign-in"):
        response = client.post(path, content=b"x" * (LIMIT + 1))
        assert response.status_code == 413, (path, response.text)
        assert response.json()["errors"][0]["code"] == "payload_too_large"


def test_a_body_within_the_limit_is_answered(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "data": {"__typename": "Query"},
        "extensions": response.json()["extensions"],
    }


@pytest.mark.parametrize("depth", [65, 3_000, 100_000])
def test_variables_nested_deeper_than_the_limit_are_refused(client: TestClient, depth: int) -> None:
    variables = "[" * depth + "]" * depth
    body = '{"query": "{ __typename }", "variables": {"x": ' + variables + "}}"
    response = client.post(
        "/graphql", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert [e["extensions"]["code"] for e in graphql_errors(response)] == ["invalid"]


def test_variables_nested_within_the_limit_are_read(client: TestClient) -> None:
    nested: Any = 1
    for _ in range(40):
        nested = [nested]
    response = client.post("/graphql", json={"query": "{ __typename }", "variables": {"x": nested}})
    assert response.status_code == 200, response.text


# Malformed requests: a coded 4xx, never a 500 ----------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ __typename \xb2 }"}',  # not UTF-8
        b"\xff\xfe\x00",
        b'"hello"',
        b"123",
        b"null",
        b"[]",
        b'[{"query": "{ __typename }"}]',
        b'["hello"]',
        b"{not json",
        b"",
    ],
)
def test_a_body_that_is_no_graphql_request_is_refused(client: TestClient, body: bytes) -> None:
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert [e["extensions"]["code"] for e in graphql_errors(response)] == ["invalid"]


@pytest.mark.parametrize(
    "request_body",
    [
        {"query": "{ __typename }", "operationName": 123},
        {"query": "{ __typename }", "operationName": {"a": 1}},
        {"query": 123},
        {"query": "{ __typename }", "variables": "hello"},
        {"query": "{ __typename }", "extensions": []},
        {"query": "{ __typename }", "extensions": {"persistedQuery": "x"}},
        {"query": "{ __typename }", "extensions": {"persistedQuery": {"sha256Hash": 5}}},
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": ["a"]}}},
        {"query": "{ __typename }", "documentId": {"a": 1}},
        {"query": "{ __typename }", "documentId": "sha256:" + "0" * 64},
        {},
    ],
)
def test_a_request_with_members_of_the_wrong_kind_is_refused_or_ignored(
    client: TestClient, request_body: dict[str, Any]
) -> None:
    response = client.post("/graphql", json=request_body)
    assert response.status_code < 500, response.text
    if response.status_code != 200:  # a member we do not use may be ignored; else refused
        graphql_errors(response)


def user_token(sub: str, org: Any = 1) -> str:
    now = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp())
    claims = {"iss": TOKEN_ISSUER, "sub": sub, "org": org, "iat": now, "exp": 2**40}
    return jwt.encode(claims, DEVELOPMENT_SECRET_KEY, algorithm="HS256")


@pytest.mark.parametrize(
    "token",
    [
        user_token("1" * 23),
        user_token("9" * 19),
        user_token("-1"),
        user_token("0"),
        user_token("1_0"),
        user_token(" 1"),
        user_token("²"),
        user_token("1", org="1" * 23),
        user_token("1", org=None),
    ],
)
def test_a_signed_token_naming_no_possible_user_is_an_invalid_token(
    client: TestClient, token: str
) -> None:
    response = client.post(
        "/graphql",
        json={"query": "{ viewer { role } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert [e["extensions"]["code"] for e in graphql_errors(response)] == ["unauthenticated"]
    assert "invalid or expired token" in response.text


def test_a_subscription_sent_by_post_is_refused_with_a_code(client: TestClient) -> None:
    query = "subscription { calibrationChanged { __typename } }"
    response = client.post("/graphql", json={"query": query})
    assert 400 <= response.status_code < 500, response.text
    graphql_errors(response)
