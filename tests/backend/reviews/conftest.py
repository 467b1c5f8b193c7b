"""Fixtures for thread reviews: the real learning loop on each database, a viewer per person and
per agent key, and helpers that build threads, deals and ratings through the real services."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from backend.actions.service import ActionInput
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_api_client, viewer_for_user
from backend.crm.models import Conversation
from backend.database import utcnow
from backend.feedback.service import FeedbackInput, Thumb, submit_feedback
from backend.handlers import open_state
from backend.learning import submit_action, submit_signals, submit_thread_review
from backend.reviews.service import SubmittedReview, ThreadReviewInput
from backend.settings import load_settings
from backend.signals.service import SignalInput
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.conftest import empty_database
from tests.factories import World, build_world

AGENT_KEYS = ("rep_a1", "rep_a2", "rep_b1")


@dataclass
class Reviews:
    state: AppState
    world: World
    people: dict[str, Viewer]  # by user key: exec_n, manager_a, rep_a1, rep_a2, rep_b1, ...
    keys: dict[str, Viewer]  # agent keys of rep_a1's, rep_a2's and rep_b1's agents
    counter: itertools.count = field(default_factory=itertools.count)

    def user_id(self, key: str) -> int:
        return self.world.users[key].id

    async def thread(
        self,
        name: str,
        *,
        agent: str = "rep_a1",
        messages: int = 1,
        deal: str | None = None,
        confidence: float = 0.5,
        action_type: str = "email",
        hours_ago: float = 5,
    ) -> tuple[int, list[int]]:
        """A thread of ``messages`` actions (one message each) by ``agent``'s agent: its id and
        its actions' ids."""
        actions = []
        for i in range(messages):
            recorded = await submit_action(
                self.state,
                self.keys[agent],
                ActionInput(
                    action_type=action_type,
                    confidence=confidence,
                    idempotency_key=f"{name}-{i}",
                    thread_external_id=name,
                    message_external_id=f"<{name}-{i}@mail>",
                    deal_external_id=deal,
                    subject=f"About {name}",
                    occurred_at=utcnow() - dt.timedelta(hours=hours_ago - i * 0.01),
                ),
            )
            actions.append(recorded.action.id)
        async with self.state.sessions() as session:
            thread_id = await session.scalar(
                select(Conversation.id).where(Conversation.external_thread_id == name)
            )
        assert thread_id is not None
        return thread_id, actions

    async def deal_closed(
        self, deal: str, kind: str, *, agent: str = "rep_a1", hours_ago: float = 1
    ) -> None:
        """`deal.won` or `deal.lost` on ``deal``, as the agent reports it."""
        result = await submit_signals(
            self.state,
            self.keys[agent],
            [
                SignalInput(
                    kind=kind,
                    source="crm",
                    external_id=f"{deal}-{kind}-{next(self.counter)}",
                    occurred_at=utcnow() - dt.timedelta(hours=hours_ago),
                    deal_external_id=deal,
                )
            ],
        )
        assert result.stored == 1

    async def rate_action(self, who: str, action_id: int, rating: int) -> None:
        async with transaction(self.state.sessions) as session:
            await submit_feedback(
                session,
                self.people[who],
                FeedbackInput(channel="dashboard", action_id=action_id, rating=rating),
            )

    async def thumb(self, who: str, message: str, up: bool) -> None:
        async with transaction(self.state.sessions) as session:
            await submit_feedback(
                session,
                self.people[who],
                FeedbackInput(
                    channel="slack",
                    message_external_id=message,
                    thumb=Thumb.UP if up else Thumb.DOWN,
                ),
            )

    async def review(
        self, who: str, thread_id: int, rating: int | None, **extra: object
    ) -> SubmittedReview:
        return await submit_thread_review(
            self.state, self.people[who], ThreadReviewInput(thread_id, rating, **extra)
        )


@pytest.fixture
async def reviews(database_url: str) -> AsyncIterator[Reviews]:
    state = open_state(load_settings(database_url=database_url, worker_in_process=False))
    try:
        async with transaction(state.sessions) as session:
            world = await build_world(session, actions_per_agent=0)
            people = {k: await viewer_for_user(session, u) for k, u in world.users.items()}
            keys = {}
            for key in AGENT_KEYS:
                agent = world.agents[key]
                created = await create_api_key(
                    session,
                    viewer=Viewer.system(agent.organization_id),
                    kind=ApiClientKind.AGENT,
                    name=key,
                    agent_id=agent.id,
                )
                keys[key] = await viewer_for_api_client(session, created.client)
        yield Reviews(state, world, people, keys)
    finally:
        await empty_database(state.engine)
        await state.close()
