"""DataLoaders of thread reviews (created per request through `info.context.loaders`): a
thread's facts, its messages (a list, or pages) and its reviews, as far as the viewer may read
them (scope, or assignment)."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.errors import DomainError
from backend.feedback.models import Feedback
from backend.pagination import Page
from backend.reviews.threads import (
    ThreadFacts,
    ThreadMessage,
    first_message_pages,
    thread_facts,
    thread_message_page,
    thread_messages,
    thread_reviews,
)
from graphql_schema.context import Context


def threads_by_id(context: Context) -> DataLoader[int, ThreadFacts | None]:
    viewer = context.require_viewer()

    async def load(ids: list[int]) -> list[ThreadFacts | None]:
        async with context.state.sessions() as session:
            found = await thread_facts(session, viewer, ids)
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


def reviews_by_thread(context: Context) -> DataLoader[int, list[Feedback]]:
    viewer = context.require_viewer()

    async def load(ids: list[int]) -> list[list[Feedback]]:
        async with context.state.sessions() as session:
            found = await thread_reviews(session, viewer, ids)
        return [found.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


def messages_by_thread(context: Context) -> DataLoader[tuple[int, int], list[ThreadMessage]]:
    """Keyed by (thread id, how many messages): one statement per page size asked."""
    viewer = context.require_viewer()

    async def load(keys: list[tuple[int, int]]) -> list[list[ThreadMessage]]:
        found: dict[tuple[int, int], list[ThreadMessage]] = {}
        async with context.state.sessions() as session:
            for first in sorted({first for _, first in keys}):
                wanted = [thread for thread, size in keys if size == first]
                grouped = await thread_messages(session, viewer, wanted, first=first)
                found.update({(thread, first): grouped.get(thread, []) for thread in wanted})
        return [found[key] for key in keys]

    return DataLoader(load_fn=load)


MessagePageKey = tuple[int, int, str | None]  # (thread id, page size, after)


def message_pages(context: Context) -> DataLoader[MessagePageKey, Page[ThreadMessage]]:
    """Threads' messages a page at a time, oldest first (`Thread.messagesConnection`): the first
    pages of all the threads a list asks for in one statement per page size; a page after a
    cursor (one thread read further) through `thread_message_page`."""
    viewer = context.require_viewer()

    async def load(keys: list[MessagePageKey]) -> list[Page[ThreadMessage] | BaseException]:
        pages: dict[MessagePageKey, Page[ThreadMessage] | BaseException] = {}
        async with context.state.sessions() as session:
            for size in sorted({first for _, first, after in keys if after is None}):
                wanted = sorted({t for t, first, after in keys if (first, after) == (size, None)})
                found = await first_message_pages(session, viewer, wanted, size=size)
                pages.update({(thread, size, None): found[thread] for thread in wanted})
            for key in keys:
                if key in pages:
                    continue
                thread, first, after = key
                try:
                    pages[key] = await thread_message_page(
                        session, viewer, thread, first=first, after=after
                    )
                except DomainError as exc:  # a bad cursor: this field's error, not the list's
                    pages[key] = exc
        return [pages[key] for key in keys]

    return DataLoader(load_fn=load)
