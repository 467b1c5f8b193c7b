"""Fixtures for the signal webhooks: the real app over HTTP on each database, a small world with
an agent key to record actions, and a sender that signs requests as a provider would."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from backend.actions.service import ActionInput
from backend.app import create_app
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_api_client
from backend.database import utcnow
from backend.handlers import open_state
from backend.learning import submit_action
from backend.outcomes.models import Outcome
from backend.settings import load_settings
from backend.signals.models import Signal
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from backend.webhooks.signing import signature_header, webhook_secret
from tests.conftest import empty_database
from tests.factories import build_world


@dataclass
class Hooks:
    client: TestClient
    state: AppState  # the test's own handle on the same database, to set up and inspect
    agent: Viewer  # the key of rep_a1's agent, in organisation north
    now: dt.datetime  # when the test started; actions happen before it

    def secret(self, slug: str = "north") -> str:
        return webhook_secret(self.state.settings.secret_key, slug)

    def post(
        self,
        path: str,
        body: Any,
        *,
        org: str = "north",
        secret: str | None = None,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx2.Response:
        """POST ``body`` (a document, or raw bytes) signed as organisation ``org``'s sender."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        signed_at = int(time.time()) if timestamp is None else timestamp
        signature = signature_header(secret or self.secret(org), raw, timestamp=signed_at)
        sent = {
            "X-Organization": org,
            "X-Signature": signature,
            "Content-Type": "application/json",
            **(headers or {}),
        }
        return self.client.post(path, content=raw, headers=sent)

    async def email(self, key: str) -> int:
        """Record an e-mail of the agent, two hours before ``now``, with Message-ID <key@mail>."""
        return await self._act(
            ActionInput(
                action_type="email",
                confidence=0.4,
                idempotency_key=key,
                occurred_at=self.now - dt.timedelta(hours=2),
                message_external_id=f"<{key}@mail>",
                thread_external_id=f"thread-{key}",
            )
        )

    async def stage_change(self, key: str) -> int:
        return await self._act(
            ActionInput(
                action_type="stage_progression",
                confidence=0.6,
                idempotency_key=key,
                occurred_at=self.now - dt.timedelta(hours=2),
                deal_external_id=f"deal-{key}",
            )
        )

    async def _act(self, data: ActionInput) -> int:
        recorded = await submit_action(self.state, self.agent, data, now=self.now)
        return recorded.action.id

    async def outcomes(self, action_id: int) -> dict[str, Outcome]:
        async with self.state.sessions() as session:
            rows = await session.scalars(select(Outcome).where(Outcome.action_id == action_id))
            return {o.outcome_type: o for o in rows}

    async def signals(self) -> list[Signal]:
        async with self.state.sessions() as session:
            return list(await session.scalars(select(Signal).order_by(Signal.id)))

    async def signal_count(self) -> int:
        async with self.state.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Signal)) or 0)


def raw_post(
    client: TestClient, path: str, body: bytes, headers: dict[str, bytes]
) -> tuple[int, Any]:
    """POST with header bytes exactly as given (the test client re-encodes header values as
    UTF-8, so it can never send the lone byte 0xB2 that a server reads as "²"): the status and
    the JSON answer (None when empty), through the app the client runs."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v) for k, v in headers.items()]
        + ([] if "content-length" in headers else [(b"content-length", b"%d" % len(body))]),
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await client.app(scope, receive, send)  # type: ignore[arg-type]

    assert client.portal is not None, "use the client inside its `with` block"
    client.portal.call(run)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(content) if content else None


def at(now: dt.datetime, hours: float = -1) -> str:
    return (now + dt.timedelta(hours=hours)).isoformat()


def events(*items: dict[str, Any]) -> dict[str, Any]:
    return {"events": list(items)}


def fields(response: httpx2.Response) -> set[str]:
    return {e["field"] for e in response.json()["errors"]}


def all_codes(response: httpx2.Response) -> Iterable[str]:
    return (e["code"] for e in response.json()["errors"])


@pytest.fixture
async def hooks(database_url: str) -> AsyncIterator[Hooks]:
    # The in-process worker would close windows on its own clock meanwhile; these tests do not
    # need it.
    settings = load_settings(database_url=database_url, worker_in_process=False)
    state = open_state(settings)
    try:
        async with transaction(state.sessions) as session:
            world = await build_world(session, actions_per_agent=0)
            key = await create_api_key(
                session,
                viewer=Viewer.system(world.orgs["north"].id),
                kind=ApiClientKind.AGENT,
                name="agent",
                agent_id=world.agents["rep_a1"].id,
            )
            agent = await viewer_for_api_client(session, key.client)
        with TestClient(create_app(settings)) as client:
            yield Hooks(client, state, agent, utcnow())
    finally:
        await empty_database(state.engine)
        await state.close()
