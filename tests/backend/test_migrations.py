"""One migration chain for both databases; the migrated schema equals the models."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from contextlib import nullcontext
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

import backend.models as models
from backend.database import create_engine


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync), models.Base.metadata
                )
            )
    finally:
        await engine.dispose()
    assert differences == []


def test_downgrade_to_nothing_and_up_again(tmp_path) -> None:
    from alembic import command

    from backend.migrations import alembic_config, upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    upgrade(url)


async def _store_opens(url: str) -> int:
    """An e-mail and its opens and clicks, stored through the services: a proxy's, a person's."""
    from backend.actions.service import ActionInput
    from backend.handlers import open_state
    from backend.learning import submit_action, submit_signals
    from backend.settings import load_settings
    from backend.signals.service import SignalInput
    from backend.unit_of_work import transaction
    from backend.viewer import Viewer
    from tests.factories import build_world

    sent = dt.datetime(2026, 10, 5, 9, tzinfo=dt.UTC)
    state = open_state(load_settings(database_url=url))
    try:
        async with transaction(state.sessions) as session:
            world = await build_world(session, actions_per_agent=0)
        north = Viewer.system(world.orgs["north"].id)
        agent_id = world.agents["rep_a1"].id
        email = ActionInput(
            action_type="email",
            confidence=0.5,
            idempotency_key="m",
            occurred_at=sent,
            agent_id=agent_id,
            message_external_id="<m@mail>",
        )
        await submit_action(state, north, email, now=sent)
        events = [
            ("email.opened", "o1", {"user_agent": "Mozilla/5.0"}),
            ("email.opened", "o2", {"user_agent": "Microsoft Office/16.0"}),
            ("email.clicked", "c1", {"user_agent": "curl/8.5.0"}),
        ]
        signals = [
            SignalInput(
                kind=kind,
                source="esp",
                external_id=key,
                occurred_at=sent + dt.timedelta(hours=1),
                payload=payload,
                message_external_id="<m@mail>",
            )
            for kind, key, payload in events
        ]
        await submit_signals(state, north, signals, now=sent + dt.timedelta(days=1))
        return agent_id
    finally:
        await state.close()


async def _engagement(url: str) -> list[tuple[Any, ...]]:
    from backend.signals.models import EmailEngagement as E

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            statement = select(
                E.agent_id, E.day, E.opens, E.machine_opens, E.clicks, E.machine_clicks
            )
            return [tuple(r) for r in await connection.execute(statement)]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_0010_counts_the_opens_and_clicks_already_stored(dialect: str, tmp_path) -> None:
    """Signals stored before 0010 (here: stored, then 0010 undone and redone) are counted into
    `email_engagement` by the migration itself; none could say what made it, so all count as
    human (`machine` is new with 0010)."""
    from alembic import command

    from backend.migrations import alembic_config, upgrade
    from tests.conftest import fresh_postgres

    if dialect == "sqlite":
        database: Any = nullcontext(f"sqlite+aiosqlite:///{tmp_path / 'engagement.db'}")
    else:
        database = fresh_postgres("sal_migration")
    with database as url:
        upgrade(url)
        agent_id = asyncio.run(_store_opens(url))
        day = dt.date(2026, 10, 5)
        assert asyncio.run(_engagement(url)) == [(agent_id, day, 2, 1, 1, 1)]
        command.downgrade(alembic_config(url), "0009")
        upgrade(url)
        assert asyncio.run(_engagement(url)) == [(agent_id, day, 2, 0, 1, 0)]


async def _judge_work(url: str) -> None:
    """Two e-mails judged wrong (a thumbs down on one's message, 1 of 5 on the other) and one
    judged right, through the services."""
    from backend.actions.service import ActionInput
    from backend.auth.service import viewer_for_user
    from backend.feedback.service import FeedbackInput
    from backend.handlers import open_state
    from backend.learning import submit_action, submit_rating
    from backend.settings import load_settings
    from backend.unit_of_work import transaction
    from backend.viewer import Viewer
    from tests.factories import build_world

    sent = dt.datetime(2026, 10, 5, 9, tzinfo=dt.UTC)
    state = open_state(load_settings(database_url=url))
    try:
        async with transaction(state.sessions) as session:
            world = await build_world(session, actions_per_agent=0)
            rep = await viewer_for_user(session, world.users["rep_a1"])
        north = Viewer.system(world.orgs["north"].id)
        actions = []
        for key in ("a", "b", "c"):
            email = ActionInput(
                action_type="email" if key != "c" else "follow_up",
                confidence=0.5,
                idempotency_key=key,
                occurred_at=sent,
                agent_id=world.agents["rep_a1"].id,
                message_external_id=f"<{key}@mail>",
            )
            actions.append((await submit_action(state, north, email, now=sent)).action)
        for data in (
            FeedbackInput(channel="dashboard", message_external_id="<a@mail>", thumb="down"),
            FeedbackInput(channel="dashboard", action_id=actions[1].id, rating=1),
            FeedbackInput(channel="dashboard", action_id=actions[2].id, rating=4),
        ):
            await submit_rating(state, rep, data, now=sent + dt.timedelta(hours=2))
    finally:
        await state.close()


async def _rework(url: str) -> list[tuple[Any, ...]]:
    from backend.feedback.models import ReworkStat as R

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            statement = select(R.day, R.action_type, R.redone).order_by(R.action_type)
            return [tuple(r) for r in await connection.execute(statement)]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_0012_counts_the_work_already_judged_wrong(dialect: str, tmp_path) -> None:
    """Ratings given before 0012 (here: given, then 0012 undone and redone) are counted into
    `rework_stats` by the migration itself, as the application counts them."""
    from alembic import command

    from backend.migrations import alembic_config, upgrade
    from tests.conftest import fresh_postgres

    if dialect == "sqlite":
        database: Any = nullcontext(f"sqlite+aiosqlite:///{tmp_path / 'rework.db'}")
    else:
        database = fresh_postgres("sal_migration")
    with database as url:
        upgrade(url)
        asyncio.run(_judge_work(url))
        live = asyncio.run(_rework(url))
        assert live == [(dt.date(2026, 10, 5), "email", 2)]
        command.downgrade(alembic_config(url), "0011")
        upgrade(url)
        assert asyncio.run(_rework(url)) == live


async def _org_configs(url: str, insert: dict[str, Any] | None = None) -> list[Any]:
    from sqlalchemy import JSON, column, table

    from tests.factories import NOW

    organizations = table("organizations", column("id"), column("config", JSON))
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            if insert is not None:
                await connection.execute(
                    text(
                        "INSERT INTO organizations (id, slug, name, timezone, config, created_at) "
                        "VALUES (1, 'o', 'O', 'UTC', :config, :created_at)"
                    ),
                    {"config": json.dumps(insert), "created_at": NOW.replace(tzinfo=None)},
                )
            rows = await connection.execute(select(organizations.c.config))
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


def test_0024_renames_the_policy_targets_the_dead_band_replaced(tmp_path) -> None:
    """An organisation's policy target overrides follow the dead band: ``max_step`` is its
    ``step``, ``hysteresis`` is gone (the band's margin replaces it); down again, back."""
    from alembic import command

    from backend.migrations import alembic_config

    url = f"sqlite+aiosqlite:///{tmp_path / 'targets.db'}"
    command.upgrade(alembic_config(url), "0023")
    before = {
        "policy": {
            "email": {"escalate_below": 0.01, "target": {"max_step": 0.01, "hysteresis": 0.005}},
            "meeting": {"autonomous_above": 0.5},
        },
        "other": 1,
    }
    asyncio.run(_org_configs(url, before))
    command.upgrade(alembic_config(url), "0024")
    after = json.loads(json.dumps(before))
    after["policy"]["email"]["target"] = {"step": 0.01}
    assert asyncio.run(_org_configs(url)) == [after]
    command.downgrade(alembic_config(url), "0023")
    after["policy"]["email"]["target"] = {"max_step": 0.01}
    assert asyncio.run(_org_configs(url)) == [after]
