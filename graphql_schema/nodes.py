"""Resolving global ids to rows the viewer may see (a foreign id resolves to nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strawberry.types import Info

from graphql_schema.loaders import by_id

MAX_ROW_ID = 2**63 - 1  # ids are BIGINT: a larger number names no row


def issued_row_id(node_id: str) -> bool:
    """Whether a global id's node id is one we could have issued: ASCII digits naming a row
    from 1 to BIGINT's largest (a larger one the database would refuse)."""
    return (
        node_id.isascii()
        and node_id.isdigit()
        and len(node_id) <= 19
        and 0 < int(node_id) <= MAX_ROW_ID
    )


def _row_id(node_id: str) -> int:
    """The row id of a global id's node id; -1 (no row: unknown, like a foreign id) for one we
    never issue."""
    return int(node_id) if issued_row_id(node_id) else -1


async def load_nodes(
    info: Info, model: type, node_ids: Iterable[str], to_type: Any, *, required: bool
) -> list[Any]:
    ids = [_row_id(node_id) for node_id in node_ids]
    rows = await info.context.loaders.get(by_id(model)).load_many(ids)
    nodes = [to_type(row) if row is not None else None for row in rows]
    if required and any(n is None for n in nodes):
        from backend.errors import NotFoundError

        raise NotFoundError("node")
    return nodes
