"""Persisted queries: a client sends the SHA-256 of a query instead of its text (Apollo's
automatic persisted queries protocol), and, in allow-list mode, only listed queries run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from backend.errors import DomainError, ErrorCode

MAX_REMEMBERED = 10_000


def query_hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class PersistedQueries:
    """Remembers queries by hash (bounded); with an allow-list, refuses any other query."""

    def __init__(self, allowlist: dict[str, str] | None = None) -> None:
        self.allowlist = allowlist
        self._known: dict[str, str] = dict(allowlist or {})

    @classmethod
    def from_file(cls, path: str | None) -> PersistedQueries:
        if not path:
            return cls()
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and query_hash(v) == k
            for k, v in data.items()
        ):
            raise ValueError(f"GRAPHQL_ALLOWLIST {path}: expected {{sha256(query): query}}")
        return cls(allowlist=data)

    def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        """The query text to run, or a DomainError the client can act on."""
        persisted = (extensions or {}).get("persistedQuery") or {}
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if digest is not None and not isinstance(digest, str):
            raise DomainError(
                ErrorCode.INVALID, "sha256Hash must be a string", field="extensions.persistedQuery"
            )
        if query is None and digest is not None:
            known = self._known.get(digest)
            if known is None:  # the client retries with the full text (Apollo protocol)
                raise DomainError(
                    ErrorCode.NOT_FOUND, "PersistedQueryNotFound", field="extensions.persistedQuery"
                )
            return known
        if query is not None and digest is not None and query_hash(query) != digest:
            raise DomainError(
                ErrorCode.INVALID,
                "provided sha256Hash does not match query",
                field="extensions.persistedQuery",
            )
        listed = self.allowlist is None or query is None or query_hash(query) in self.allowlist
        if not listed:
            raise DomainError(
                ErrorCode.FORBIDDEN, "this query is not on the allow-list", field="query"
            )
        if query is not None and digest is not None and len(self._known) < MAX_REMEMBERED:
            self._known[digest] = query
        return query
