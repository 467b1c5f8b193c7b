"""Persisted queries: the manifest formats the allow-list accepts (GraphQL Codegen's
`sha256:<hex>` keys and bare hex), and requests naming a document by GraphQL over HTTP's
`documentId` or by Apollo's extension."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from backend.errors import DomainError, ErrorCode
from graphql_schema.persisted import PersistedQueries, load_manifest

QUERY = "query Viewer { viewer { role } }"
DIGEST = hashlib.sha256(QUERY.encode()).hexdigest()
OTHER = "{ health { ok } }"


def _manifest(tmp_path: Path, data: object) -> str:
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps(data))
    return str(path)


def _apollo(digest: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


@pytest.mark.parametrize("key", [f"sha256:{DIGEST}", DIGEST])
def test_a_manifest_keyed_by_document_id_or_bare_hex_is_the_allow_list(
    tmp_path: Path, key: str
) -> None:
    persisted = PersistedQueries.from_file(_manifest(tmp_path, {key: QUERY}))
    assert persisted.allowlist == {DIGEST: QUERY}
    assert persisted.resolve(None, None, f"sha256:{DIGEST}") == QUERY
    assert persisted.resolve(None, _apollo(DIGEST)) == QUERY
    assert persisted.resolve(QUERY, None) == QUERY
    with pytest.raises(DomainError) as refused:
        persisted.resolve(OTHER, None)
    assert refused.value.code is ErrorCode.FORBIDDEN


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({f"sha256:{DIGEST}": OTHER}, f"sha256:{DIGEST}"),  # the key is not the document's hash
        ({f"sha1:{DIGEST}": QUERY}, f"sha1:{DIGEST}"),  # another algorithm
        ({"sha256:abc": QUERY}, "sha256:abc"),  # not a digest
        ({DIGEST.upper(): QUERY}, DIGEST.upper()),  # hex is lower case
        ({DIGEST: 42}, DIGEST),  # not a document
    ],
)
def test_a_manifest_entry_that_is_not_its_documents_hash_is_refused_by_name(
    tmp_path: Path, data: dict[str, object], named: str
) -> None:
    with pytest.raises(ValueError, match=f"key '{named}'"):
        load_manifest(_manifest(tmp_path, data))


def test_apollos_persisted_query_manifest_is_an_allow_list_too(tmp_path: Path) -> None:
    """The format `@apollo/generate-persisted-query-manifest` writes."""
    manifest = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": DIGEST, "name": "Viewer", "type": "query", "body": QUERY}],
    }
    persisted = PersistedQueries.from_file(_manifest(tmp_path, manifest))
    assert persisted.allowlist == {DIGEST: QUERY}
    assert persisted.resolve(None, _apollo(DIGEST)) == QUERY
    with pytest.raises(DomainError):
        persisted.resolve(OTHER, None)
    wrong = {**manifest, "operations": [{"id": DIGEST, "body": OTHER}]}
    with pytest.raises(ValueError, match=f"key '{DIGEST}'"):
        load_manifest(_manifest(tmp_path, wrong))
    with pytest.raises(ValueError, match="version 1"):
        load_manifest(_manifest(tmp_path, {**manifest, "version": 2}))
    with pytest.raises(ValueError, match=r"operations\[0\]"):
        load_manifest(_manifest(tmp_path, {**manifest, "operations": [{"body": QUERY}]}))


def test_a_manifest_must_be_an_object(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected an object"):
        PersistedQueries.from_file(_manifest(tmp_path, [QUERY]))


def test_no_manifest_means_no_allow_list() -> None:
    assert PersistedQueries.from_file(None).allowlist is None
    assert PersistedQueries.from_file("").resolve(OTHER, None) == OTHER


def test_a_document_id_unknown_yet_is_not_found_then_remembered_with_its_text() -> None:
    persisted = PersistedQueries()
    with pytest.raises(DomainError) as unknown:
        persisted.resolve(None, None, f"sha256:{DIGEST}")
    assert unknown.value.code is ErrorCode.NOT_FOUND
    assert unknown.value.message == "PersistedQueryNotFound"
    assert unknown.value.field == "documentId"
    # the client retries with the text (and the id, in either form)
    assert persisted.resolve(QUERY, _apollo(DIGEST)) == QUERY
    assert persisted.resolve(None, None, f"sha256:{DIGEST}") == QUERY


@pytest.mark.parametrize(
    "document_id", [DIGEST, f"sha1:{DIGEST}", "sha256:", "sha256:xyz", 42, ["sha256:"]]
)
def test_a_document_id_other_than_sha256_hex_is_invalid(document_id: object) -> None:
    with pytest.raises(DomainError) as invalid:
        PersistedQueries().resolve(None, None, document_id)
    assert invalid.value.code is ErrorCode.INVALID and invalid.value.field == "documentId"


def test_document_id_and_apollo_hash_must_name_the_same_document() -> None:
    persisted = PersistedQueries(allowlist={DIGEST: QUERY})
    assert persisted.resolve(None, _apollo(DIGEST), f"sha256:{DIGEST}") == QUERY
    other = hashlib.sha256(OTHER.encode()).hexdigest()
    with pytest.raises(DomainError) as mismatch:
        persisted.resolve(None, _apollo(other), f"sha256:{DIGEST}")
    assert mismatch.value.code is ErrorCode.INVALID


def test_a_text_that_is_not_the_named_document_is_invalid() -> None:
    with pytest.raises(DomainError) as invalid:
        PersistedQueries().resolve(OTHER, None, f"sha256:{DIGEST}")
    assert invalid.value.code is ErrorCode.INVALID and invalid.value.field == "documentId"
