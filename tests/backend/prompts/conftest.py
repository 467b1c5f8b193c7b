"""Fixtures for feedback prompts: the learning loop on each database (settings a test may
change through ``prompt_settings``), a viewer per person, rep_a1's agent key and a partner key
that relays ratings, and helpers that record actions and read prompts, ratings and events.

The Slack stand-in and the Gmail add-on fixtures are imported from their packages, not copied.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from backend.actions.service import ActionInput, RecordedAction
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_api_client, viewer_for_user
from backend.events.service import channel_for
from backend.feedback.models import Feedback
from backend.handlers import open_state
from backend.learning import submit_action
from backend.prompts.models import FeedbackPrompt, PromptBudget
from backend.prompts.service import EVENT
from backend.pubsub import Subscription
from backend.settings import load_settings
from backend.slack.models import SlackPost
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.backend.conftest import T0
from tests.backend.gmail.conftest import addon, google, google_key, key_server  # noqa: F401
from tests.backend.reviews.conftest import reviews  # noqa: F401
from tests.backend.slack.conftest import stand_in  # noqa: F401
from tests.conftest import empty_database
from tests.factories import World, build_world

HOUR = dt.timedelta(hours=1)


@dataclass
class Prompts:
    state: AppState
    world: World
    people: dict[str, Viewer]  # by user key: rep_a1, rep_a2, manager_a, exec_n, ...
    agent: Viewer  # the key of rep_a1's agent
    partner: Viewer  # an integration key with write:feedback, naming people by authorEmail

    def user_id(self, key: str) -> int:
        return self.world.users[key].id

    @property
    def org(self) -> int:
        return self.world.orgs["north"].id

    async def record(
        self,
        key: str,
        action_type: str = "escalation",
        *,
        now: dt.datetime = T0,
        confidence: float = 0.5,
        ago: dt.timedelta = dt.timedelta(minutes=1),
        **extra: Any,
    ) -> RecordedAction:
        """An action of rep_a1's agent (idempotency key ``key``), recorded at ``now``."""
        return await submit_action(
            self.state,
            self.agent,
            ActionInput(
                action_type=action_type,
                confidence=confidence,
                idempotency_key=key,
                occurred_at=now - ago,
                **extra,
            ),
            now=now,
        )

    async def rows(self, model: Any) -> list[Any]:
        return await rows(self.state, model)

    async def prompts(self) -> list[FeedbackPrompt]:
        return await self.rows(FeedbackPrompt)

    async def prompt(self, prompt_id: int) -> FeedbackPrompt:
        async with self.state.sessions() as session:
            return await session.get_one(FeedbackPrompt, prompt_id)

    async def feedback(self) -> list[Feedback]:
        return await self.rows(Feedback)

    async def budgets(self) -> dict[tuple[int, dt.date], int]:
        return {(b.user_id, b.day): b.used for b in await self.rows(PromptBudget)}

    async def slack_posts(self) -> list[SlackPost]:
        return await self.rows(SlackPost)

    def subscribe(self) -> Subscription:
        """The prompt events of organisation north, from now on."""
        return self.state.broker.subscribe(channel_for(self.org, EVENT))


async def rows(state: AppState, model: Any) -> list[Any]:
    """Every row of ``model``, oldest first."""
    async with state.sessions() as session:
        return list(await session.scalars(select(model).order_by(model.id)))


async def changes(subscription: Subscription) -> list[tuple[int, str, str]]:
    """(promptId, change, state) of each event the subscription received so far."""
    received = []
    while True:
        try:
            message = await asyncio.wait_for(anext(subscription), 0.05)
        except TimeoutError:
            return received
        assert message["name"] == EVENT
        data = message["data"]
        received.append((data["promptId"], data["change"], data["state"]))


@pytest.fixture
def prompt_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings overrides; a test changes them with ``parametrize(..., indirect=True)``."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
async def prompts(database_url: str, prompt_settings: dict[str, Any]) -> AsyncIterator[Prompts]:
    settings = load_settings(
        database_url=database_url,
        redis_url=None,
        worker_in_process=False,
        public_base_url="http://dashboard.test",
        **prompt_settings,
    )
    state = open_state(settings)
    try:
        async with transaction(state.sessions) as session:
            world = await build_world(session, actions_per_agent=0)
            people = {k: await viewer_for_user(session, u) for k, u in world.users.items()}
            system = Viewer.system(world.orgs["north"].id)
            agent_key = await create_api_key(
                session,
                viewer=system,
                kind=ApiClientKind.AGENT,
                name="agent",
                agent_id=world.agents["rep_a1"].id,
            )
            partner_key = await create_api_key(
                session,
                viewer=system,
                kind=ApiClientKind.PARTNER,
                name="crm-app",
                scopes=["write:feedback", "read:feedback"],
            )
            agent = await viewer_for_api_client(session, agent_key.client)
            partner = await viewer_for_api_client(session, partner_key.client)
        yield Prompts(state, world, people, agent, partner)
    finally:
        await empty_database(state.engine)
        await state.close()
