"""Hostile input gets a coded 4xx answer, never a 500 nor the masked "Unexpected error.":
bodies too large or too deep, bodies that are no GraphQL request, tokens, ids, cursors, dates
and strings no client of ours would send (issue #16). Each class is pinned by a test, and a
property-based fuzzer over the same classes keeps them closed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from backend.app import create_app
from backend.settings import load_settings

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
