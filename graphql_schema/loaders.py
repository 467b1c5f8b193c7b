"""DataLoaders over scoped lookups: one loader per relation, created per request (Context)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from strawberry.dataloader import DataLoader

from backend.lookup import rows_by_column, rows_by_ids
from graphql_schema.context import Context


@cache
def by_id(model: type) -> Callable[[Context], DataLoader[int, Any]]:
    """The loader factory of ``model`` by id (one per model: a stable key for `Loaders`)."""

    def factory(context: Context) -> DataLoader[int, Any]:
        viewer = context.require_viewer()

        async def load(ids: list[int]) -> list[Any]:
            async with context.state.sessions() as session:
                found: dict[int, Any] = await rows_by_ids(session, viewer, model, ids)
            return [found.get(i) for i in ids]

        return DataLoader(load_fn=load)

    return factory


@cache
def by_column(model: type, column: str) -> Callable[[Context], DataLoader[Any, list[Any]]]:
    """The loader factory of ``model`` rows grouped by ``column`` (e.g. outcomes by action)."""

    def factory(context: Context) -> DataLoader[Any, list[Any]]:
        viewer = context.require_viewer()

        async def load(keys: list[Any]) -> list[list[Any]]:
            async with context.state.sessions() as session:
                grouped: dict[Any, list[Any]] = await rows_by_column(
                    session, viewer, model, column, keys
                )
            return [grouped.get(k, []) for k in keys]

        return DataLoader(load_fn=load)

    return factory
