"""Persisted queries: a client sends the SHA-256 of a query instead of its text, as Apollo's
automatic persisted queries (`extensions.persistedQuery.sha256Hash`) or as GraphQL over HTTP's
persisted documents (`documentId: "sha256:<hex>"`); in allow-list mode only listed queries run.
The allow-list is a manifest in one of two formats: `{id: document}` whose ids are `sha256:<hex>`
or bare hex (GraphQL Codegen's persisted-documents manifest, as the dashboard's build writes it),
or Apollo's persisted query manifest (`{"format": "apollo-persisted-query-manifest", "version":
1, "operations": [{"id": <hex>, "name", "type", "body"}]}`, as
`@apollo/generate-persisted-query-manifest` writes it)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from backend.errors import DomainError, ErrorCode

MAX_REMEMBERED = 10_000
DOCUMENT_ID_PREFIX = "sha256:"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def query_hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def manifest_digest(key: str) -> str | None:
    """The hex digest a manifest key names (`sha256:<hex>` or `<hex>`), or None if malformed."""
    digest = key.removeprefix(DOCUMENT_ID_PREFIX)
    return digest if _HEX_DIGEST.fullmatch(digest) else None


APOLLO_FORMAT = "apollo-persisted-query-manifest"


def _apollo_entries(path: str | Path, data: dict[str, Any]) -> dict[Any, Any]:
    """Apollo's manifest as {id: body}; its version 1 is the one there is."""
    operations = data.get("operations")
    if data.get("version") != 1 or not isinstance(operations, list):
        raise ValueError(
            f"GRAPHQL_ALLOWLIST {path}: an {APOLLO_FORMAT} must be version 1 with a list "
            "`operations`"
        )
    entries: dict[Any, Any] = {}
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict) or not isinstance(operation.get("id"), str):
            raise ValueError(f"GRAPHQL_ALLOWLIST {path}: operations[{index}] has no string `id`")
        entries[operation["id"]] = operation.get("body")
    return entries


def load_manifest(path: str | Path) -> dict[str, str]:
    """A persisted-documents manifest as {hex digest: document}; each key must be the SHA-256 of
    its document, and the error names the first one that is not."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"GRAPHQL_ALLOWLIST {path}: expected an object {{sha256: document}}")
    if data.get("format") == APOLLO_FORMAT:
        data = _apollo_entries(path, data)
    documents: dict[str, str] = {}
    for key, document in data.items():
        digest = manifest_digest(key) if isinstance(key, str) else None
        if digest is None or not isinstance(document, str):
            raise ValueError(
                f"GRAPHQL_ALLOWLIST {path}: key {key!r} is not sha256:<hex> or <hex> of a document"
            )
        if query_hash(document) != digest:
            raise ValueError(
                f"GRAPHQL_ALLOWLIST {path}: key {key!r} is not the SHA-256 of its document"
            )
        documents[digest] = document
    return documents


async def requested_document_ids(request: Any) -> list[Any]:
    """The `documentId` of each request of an HTTP request (Strawberry's request adapter): a GET's
    query parameter, or each member's in a JSON body (one request, or a batch). A body that names
    none (most) is not parsed a second time; Starlette keeps the body it read, so this reads
    nothing again."""
    if request.method == "GET":
        return [request.query_params.get("documentId")]
    if "application/json" not in (request.content_type or ""):
        return []
    body = await request.get_body()
    if b'"documentId"' not in body:
        return []
    try:
        data = json.loads(body)
    except ValueError:
        return []  # the GraphQL view has already answered that the body is not JSON
    items = data if isinstance(data, list) else [data]
    return [item.get("documentId") if isinstance(item, dict) else None for item in items]


def _document_id_digest(document_id: Any) -> str | None:
    if document_id is None:
        return None
    digest = manifest_digest(document_id) if isinstance(document_id, str) else None
    if digest is None or not document_id.startswith(DOCUMENT_ID_PREFIX):
        raise DomainError(ErrorCode.INVALID, "documentId must be sha256:<hex>", field="documentId")
    return digest


def _apollo_digest(extensions: dict[str, Any] | None) -> str | None:
    persisted = (extensions or {}).get("persistedQuery") or {}
    digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if digest is not None and not isinstance(digest, str):
        raise DomainError(
            ErrorCode.INVALID, "sha256Hash must be a string", field="extensions.persistedQuery"
        )
    return digest


class PersistedQueryNotFound(DomainError):
    """A hash this server does not know (yet): the client sends the text with it (Apollo's
    protocol), or its build's manifest is not the allow-list deployed."""

    def __init__(self, field: str) -> None:
        super().__init__(ErrorCode.NOT_FOUND, "PersistedQueryNotFound", field=field)


class PersistedQueries:
    """Remembers queries by hash (bounded); with an allow-list, refuses any other query."""

    def __init__(self, allowlist: dict[str, str] | None = None) -> None:
        self.allowlist = allowlist
        self._known: dict[str, str] = dict(allowlist or {})

    @classmethod
    def from_file(cls, path: str | None) -> PersistedQueries:
        if not path:
            return cls()
        return cls(allowlist=load_manifest(path))

    def resolve(
        self, query: str | None, extensions: dict[str, Any] | None, document_id: Any = None
    ) -> str | None:
        """The query text to run, or a DomainError the client can act on."""
        digest = _apollo_digest(extensions)
        by_id = _document_id_digest(document_id)
        if by_id is not None and digest is not None and by_id != digest:
            raise DomainError(
                ErrorCode.INVALID,
                "documentId and extensions.persistedQuery name different documents",
                field="documentId",
            )
        digest = digest or by_id
        field = "documentId" if by_id is not None else "extensions.persistedQuery"
        if query is None and digest is not None:
            known = self._known.get(digest)
            if known is None:  # the client retries with the full text (Apollo protocol)
                raise PersistedQueryNotFound(field)
            return known
        if query is not None and digest is not None and query_hash(query) != digest:
            raise DomainError(
                ErrorCode.INVALID, "provided sha256Hash does not match query", field=field
            )
        listed = self.allowlist is None or query is None or query_hash(query) in self.allowlist
        if not listed:
            raise DomainError(
                ErrorCode.FORBIDDEN, "this query is not on the allow-list", field="query"
            )
        if query is not None and digest is not None and len(self._known) < MAX_REMEMBERED:
            self._known[digest] = query
        return query
