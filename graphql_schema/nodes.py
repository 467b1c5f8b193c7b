"""Resolving global ids to rows the viewer may see (a foreign id resolves to nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strawberry.types import Info

from graphql_schema.loaders import by_id


async def load_nodes(
    info: Info, model: type, node_ids: Iterable[str], to_type: Any, *, required: bool
) -> list[Any]:
    ids = []
    for node_id in node_ids:
        try:
            ids.append(int(node_id))
        except ValueError:
            ids.append(-1)  # not an id we ever issue: unknown, like a foreign one
    rows = await info.context.loaders.get(by_id(model)).load_many(ids)
    nodes = [to_type(row) if row is not None else None for row in rows]
    if required and any(n is None for n in nodes):
        from backend.errors import NotFoundError

        raise NotFoundError("node")
    return nodes
