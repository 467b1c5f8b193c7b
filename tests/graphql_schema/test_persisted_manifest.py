"""The dashboard's persisted-documents manifest (frontend_stub/dist/persisted-documents.json,
written by its build) is the production allow-list: it loads as one, every document in it is
valid against the current schema (so a schema change that breaks the dashboard fails here), and
the dashboard's requests by `documentId` run with the allow-list on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate
from starlette.testclient import TestClient

from backend.app import create_app
from backend.migrations import upgrade
from backend.settings import load_settings
from graphql_schema.persisted import PersistedQueries
from graphql_schema.schema import schema
from tests.graphql_schema.conftest import _populate

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "frontend_stub" / "dist" / "persisted-documents.json"
SDL = ROOT / "graphql_schema" / "schema.graphql"


def _documents() -> dict[str, str]:
    return dict(json.loads(MANIFEST.read_text()))


def _named(operation: str) -> tuple[str, str]:
    """The manifest's id and text of the dashboard's operation of that name."""
    for document_id, text in _documents().items():
        if text.startswith(f"query {operation}(") or text.startswith(f"query {operation} "):
            return document_id, text
    raise AssertionError(f"{operation} is not in {MANIFEST}")


def test_the_committed_manifest_loads_as_the_allow_list() -> None:
    documents = _documents()
    assert documents, "the dashboard's build wrote no operation"
    assert all(key.startswith("sha256:") for key in documents)
    persisted = PersistedQueries.from_file(str(MANIFEST))
    assert persisted.allowlist is not None and len(persisted.allowlist) == len(documents)


@pytest.mark.parametrize("document_id", sorted(_documents()))
def test_every_dashboard_operation_is_valid_against_the_current_schema(document_id: str) -> None:
    document = parse(_documents()[document_id])
    served = validate(schema._schema, document)
    committed = validate(build_schema(SDL.read_text()), document)
    assert not served, f"{document_id}: {[error.message for error in served]}"
    assert not committed, f"{document_id}: {[error.message for error in committed]}"


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('allowlist') / 'test.db'}"
    upgrade(url)
    settings = load_settings(
        database_url=url, worker_in_process=False, graphql_allowlist=str(MANIFEST)
    )
    _, tokens = asyncio.run(_populate(url, settings.secret_key))
    with TestClient(create_app(settings)) as client:
        yield client, {"Authorization": f"Bearer {tokens['rep_a1']}"}


def test_the_dashboard_runs_by_document_id_with_the_allow_list_on(strict) -> None:
    client, headers = strict
    viewer_id, _ = _named("Viewer")
    by_id = client.post("/graphql", json={"documentId": viewer_id}, headers=headers)
    assert by_id.status_code == 200, by_id.text
    assert by_id.json()["data"]["viewer"]["role"] == "REP"

    health_id, health_text = _named("ServiceHealth")
    apollo = {"persistedQuery": {"version": 1, "sha256Hash": health_id.removeprefix("sha256:")}}
    both = client.post("/graphql", json={"documentId": health_id, "extensions": apollo})
    assert both.json()["data"]["health"]["ok"] is True
    with_text = client.post("/graphql", json={"query": health_text, "extensions": apollo})
    assert with_text.json()["data"]["health"]["ok"] is True

    batch = client.post("/graphql", json=[{"documentId": viewer_id}], headers=headers)
    assert batch.status_code in (200, 400)  # batching may be off; never a bypass of the list


def test_anything_else_is_refused_with_the_allow_list_on(strict) -> None:
    client, headers = strict
    unlisted = client.post("/graphql", json={"query": "{ viewer { role } }"}, headers=headers)
    assert unlisted.status_code == 403
    unknown = client.post("/graphql", json={"documentId": "sha256:" + "0" * 64}, headers=headers)
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    malformed = client.post("/graphql", json={"documentId": "md5:abc"}, headers=headers)
    assert malformed.status_code == 400 and "documentId" in malformed.text
