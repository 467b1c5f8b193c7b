"""DataLoaders of thread reviews (created per request through `info.context.loaders`): a
thread's facts and its reviews, as far as the viewer may read them (scope, or assignment)."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.feedback.models import Feedback
from backend.reviews.threads import ThreadFacts, thread_facts, thread_reviews
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
