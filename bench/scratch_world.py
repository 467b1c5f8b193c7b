"""The data `bench_graphql.py` works on: a scratch PostgreSQL database, the demo organisations'
rep1 and rep2 with their agents' API keys and rep1's token, and fresh e-mail actions with open
outcomes, bulk-inserted as copies of one recorded through the real service."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np
from sqlalchemy import insert, inspect, select, text

from backend.actions.models import AgentAction
from backend.actions.service import ActionInput
from backend.agents.models import Agent
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_api_client, viewer_for_user
from backend.auth.tokens import issue_user_token
from backend.database import utcnow
from backend.learning import submit_action
from backend.orgs.models import User
from backend.outcomes.models import Outcome
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class World:
    organization_id: int
    dashboard_agent: int  # rep1's agent: the dashboard and the events
    signals_agent: int  # rep2's agent: the signal batches (the dashboard's data stays as seeded)
    rep_token: str
    rep_viewer: Viewer
    signals_viewer: Viewer  # the agent key of the signals agent
    dashboard_key: str  # agent key of the dashboard agent (triggers the events)
    signals_key: str
    template: dict[str, Any]  # an e-mail action recorded through the service, as columns
    outcomes: list[tuple[dict[str, Any], dt.timedelta]]  # its outcomes and their windows
    serial: int = 0


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def database_url(name: str) -> str:
    """The SQLAlchemy URL of the database ``name`` on the local server."""
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def create_database(prefix: str) -> str:
    """A new, empty PostgreSQL database named ``{prefix}_{8 hex digits}``: its name."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    return name


async def drop_database(name: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def scratch_database(prefix: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (its SQLAlchemy URL), dropped on the way out."""
    name = await create_database(prefix)
    try:
        yield database_url(name)
    finally:
        await drop_database(name)


def columns(row: Any) -> dict[str, Any]:
    return {a.key: getattr(row, a.key) for a in inspect(type(row)).column_attrs if a.key != "id"}


async def prepare(state: AppState, *, secret_key: str) -> World:
    """Keys and tokens for rep1 and rep2's agents, and one e-mail action recorded through the
    service whose rows serve as the template of the bulk-inserted ones."""
    async with transaction(state.sessions) as session:
        users = {
            u.email: u
            for u in await session.scalars(
                select(User).where(User.email.in_(["rep1@demo.example", "rep2@demo.example"]))
            )
        }
        agents = []
        for email in ("rep1@demo.example", "rep2@demo.example"):
            agents.append(
                await session.scalar(
                    select(Agent).where(Agent.owner_id == users[email].id).order_by(Agent.id)
                )
            )
        rep = users["rep1@demo.example"]
        system = Viewer.system(rep.organization_id)
        keys = [
            await create_api_key(
                session,
                viewer=system,
                kind=ApiClientKind.AGENT,
                name=f"bench {a.id}",
                agent_id=a.id,
            )
            for a in agents
        ]
        rep_viewer = await viewer_for_user(session, rep)
        signals_viewer = await viewer_for_api_client(session, keys[1].client)
    token = issue_user_token(
        user_id=rep.id,
        organization_id=rep.organization_id,
        secret_key=secret_key,
        ttl=dt.timedelta(hours=2),
    )
    recorded = await submit_action(
        state,
        signals_viewer,
        ActionInput(
            action_type="email",
            confidence=0.5,
            idempotency_key="bench-template",
            occurred_at=utcnow() - dt.timedelta(hours=2),
        ),
    )
    async with state.sessions() as session:
        template = await session.get(AgentAction, recorded.action.id)
        opened = await session.scalars(select(Outcome).where(Outcome.action_id == template.id))
        outcomes = [(columns(o), (o.due_at or o.opened_at) - o.opened_at) for o in opened]
    return World(
        rep.organization_id,
        agents[0].id,
        agents[1].id,
        token,
        rep_viewer,
        signals_viewer,
        keys[0].key,
        keys[1].key,
        columns(template),
        outcomes,
    )


async def insert_actions(state: AppState, world: World, agent_id: int, count: int) -> list[int]:
    """``count`` e-mail actions of the last 20 hours with their open outcomes, as the service
    records them (copies of the template), in one transaction; then ANALYZE."""
    rng = np.random.default_rng(world.serial)
    now = utcnow()
    keys = [f"bench-{world.serial + i}" for i in range(count)]
    world.serial += count
    when = [now - dt.timedelta(minutes=int(m)) for m in rng.integers(60, 20 * 60, count)]
    async with transaction(state.sessions) as session:
        rows = await session.execute(
            insert(AgentAction).returning(AgentAction.idempotency_key, AgentAction.id),
            [
                {
                    **world.template,
                    "agent_id": agent_id,
                    "idempotency_key": key,
                    "confidence": float(round(p, 4)),
                    "occurred_at": at,
                    "created_at": at,
                }
                for key, at, p in zip(keys, when, rng.uniform(0.05, 0.95, count), strict=True)
            ],
        )
        ids = dict(rows.all())
        action_ids = [ids[key] for key in keys]
        for outcome, window in world.outcomes:
            await session.execute(
                insert(Outcome),
                [
                    {
                        **outcome,
                        "agent_id": agent_id,
                        "action_id": a,
                        "opened_at": at,
                        "due_at": at + window,
                        "created_at": at,
                    }
                    for a, at in zip(action_ids, when, strict=True)
                ],
            )
    async with transaction(state.sessions) as session:
        await session.execute(text("ANALYZE agent_actions, outcomes"))
    return action_ids
