"""DataLoaders over scoped lookups: one loader per relation, created per request (Context)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from strawberry.dataloader import DataLoader

from backend.alerts.models import AlertRuleChange
from backend.alerts.rules import first_history_pages, require_rule_reader, rule_history_page
from backend.errors import DomainError, NotFoundError
from backend.lookup import rows_by_column, rows_by_ids
from backend.pagination import Page
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


# (rule id, page size, cursor): one page of one rule's audit trail
HistoryKey = tuple[int, int, str | None]


def rule_history(context: Context) -> DataLoader[HistoryKey, Page[AlertRuleChange]]:
    """Alert rules' audit trails, a page each, newest first (`AlertRule.history`): the first
    pages of all the rules a list asks for in one statement per page size; a page after a
    cursor (one rule's trail read further) through `rule_history_page`. Rules out of the
    viewer's sight are not found, as there."""
    viewer = context.require_viewer()

    async def load(keys: list[HistoryKey]) -> list[Page[AlertRuleChange] | BaseException]:
        require_rule_reader(viewer)
        pages: dict[HistoryKey, Page[AlertRuleChange] | BaseException] = {}
        async with context.state.sessions() as session:
            for size in sorted({first for _, first, after in keys if after is None}):
                wanted = sorted(
                    {rule for rule, first, after in keys if (first, after) == (size, None)}
                )
                found = await first_history_pages(session, viewer, wanted, size)
                for rule_id in wanted:
                    pages[(rule_id, size, None)] = found.get(
                        rule_id, NotFoundError("alert rule", field="id")
                    )
            for key in keys:
                if key in pages:
                    continue
                rule_id, first, after = key
                try:
                    pages[key] = await rule_history_page(
                        session, viewer, rule_id, first=first, after=after
                    )
                except DomainError as exc:
                    pages[key] = exc
        return [pages[key] for key in keys]

    return DataLoader(load_fn=load)
