"""Relay building blocks: connections with opaque keyset cursors over backend pages, and what
a query selects of them (so a list reads only what is asked: no count unless `totalCount`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

from backend.pagination import Page

N = TypeVar("N")


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items come before this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last item: pass it as `after` for the next page."
    )


@strawberry.type(description="An item of a list and its cursor.")
class Edge(Generic[N]):
    node: N = strawberry.field(description="The item.")
    cursor: str = strawberry.field(description="Opaque position of this item in the list.")


@strawberry.type(
    description="A page of a list, in the order its field states, with opaque keyset cursors."
)
class Connection(Generic[N]):
    edges: list[Edge[N]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits.")
    total_count: int | None = strawberry.field(
        description="How many items the whole list holds (with the same filter)."
    )

    @classmethod
    def of(cls, page: Page[Any], to_node: Callable[[Any], N], info: Info) -> Connection[N]:
        """The connection of ``page``; each edge's cursor only when the query selects it."""
        keyed = selects(info, "edges", "cursor")
        edges = [
            Edge(node=to_node(item), cursor=page.cursor(i) if keyed else "")  # "": not asked
            for i, item in enumerate(page.items)
        ]
        last = len(page.items) - 1
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start_cursor=page.cursor(0) if page.items else None,
                end_cursor=page.cursor(last) if page.items else None,
            ),
            total_count=page.total,
        )


def selects(info: Info, *path: str) -> bool:
    """Whether the query selects the field at ``path`` (GraphQL names) below the field being
    resolved, through fragments: ``selects(info, "edges", "node", "outcomes")``. Directives
    are not evaluated: a field under ``@skip`` counts as selected (it is then read for
    nothing, never missed)."""
    return any(_selects(field.selections, path) for field in info.selected_fields)


def _selects(selections: Sequence[Selection], path: Sequence[str]) -> bool:
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name == path[0] and (
                len(path) == 1 or _selects(selection.selections, path[1:])
            ):
                return True
        elif _selects(selection.selections, path):  # a fragment: its fields are ours
            return True
    return False
