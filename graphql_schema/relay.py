"""Relay building blocks: connections with opaque keyset cursors over backend pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

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
    def of(cls, page: Page[Any], to_node: Callable[[Any], N]) -> Connection[N]:
        edges = [
            Edge(node=to_node(item), cursor=c)
            for item, c in zip(page.items, page.cursors, strict=True)
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            total_count=page.total,
        )
