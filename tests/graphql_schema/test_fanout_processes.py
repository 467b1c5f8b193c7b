"""Fan-out across processes: two real uvicorn servers on one PostgreSQL database and Redis.

A mutation on process A reaches a subscriber on process B; a client on B that stops reading is
closed with 1013 while another client of B receives every event. Every wait is bounded and the
servers are always stopped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import socket
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from strawberry.relay import GlobalID
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key
from backend.auth.tokens import issue_user_token
from backend.database import create_engine, create_sessionmaker
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from graphql_schema.live.subscriptions import SUBSCRIPTION_LOST_CLOSE
from tests.conftest import REDIS_URL, fresh_postgres, require_redis
from tests.factories import build_world
from tests.servers import redis_prefix_for, running_server

# One worker runs this module's tests: its servers (per database) start once, not once per
# worker that picks up one of its tests.
pytestmark = pytest.mark.xdist_group("fanout-processes")

SECRET_KEY = "fan-out-test-" + secrets.token_hex(16)
NEEDS_LABEL = (
    "subscription { outcomeNeedsLabel { version stream outcomeId agentId actionId reason } }"
)
RECORD_ACTION = """mutation($input: RecordActionInput!) {
  recordAction(input: $input) { action { id } errors { message } } }"""
RECORD_SIGNALS = """mutation($input: RecordSignalsInput!) {
  recordSignals(input: $input) { needsLabel errors { message } } }"""


@dataclass
class Servers:
    a: str  # base URLs
    b: str
    pid_b: int
    tokens: dict[str, str]
    organization_id: int
    agent_id: int  # rep_a1's agent
    prefix: str  # their Redis channel prefix


async def _seed(url: str) -> tuple[dict[str, str], int, int]:
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            world = await build_world(session, actions_per_agent=0)
            tokens = {
                key: issue_user_token(
                    user_id=user.id,
                    organization_id=user.organization_id,
                    secret_key=SECRET_KEY,
                    ttl=dt.timedelta(hours=1),
                )
                for key, user in world.users.items()
            }
            agent = world.agents["rep_a1"]
            system = Viewer.system(agent.organization_id)
            key = await create_api_key(
                session, viewer=system, kind=ApiClientKind.AGENT, name="a1", agent_id=agent.id
            )
            tokens["agent_a1"] = key.key
        return tokens, agent.organization_id, agent.id
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Two server processes on one fresh PostgreSQL database, fanning out through Redis."""
    require_redis()
    logs = tmp_path_factory.mktemp("servers")
    with fresh_postgres("sal_fanout") as url, ExitStack() as stack:
        tokens, organization_id, agent_id = asyncio.run(_seed(url))
        (a, _), (b, b_pid) = (
            stack.enter_context(
                running_server(url, logs, secret_key=SECRET_KEY, redis_url=REDIS_URL)
            )
            for _ in range(2)
        )
        yield Servers(a, b, b_pid, tokens, organization_id, agent_id, redis_prefix_for(url))


def graphql(base: str, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@contextmanager
def subscriber(
    servers: Servers, base: str, as_: str, *, receive_buffer: int | None = None, **options: Any
) -> Iterator[ClientConnection]:
    """A graphql-transport-ws client, acknowledged and subscribed to `outcomeNeedsLabel`."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:  # set before connecting, it also turns off autotuning
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(5)
    sock.connect((host, int(port)))
    init = {"Authorization": f"Bearer {servers.tokens[as_]}"}
    with connect(
        f"ws://{host}:{port}/graphql",
        sock=sock,
        subprotocols=["graphql-transport-ws"],
        compression=None,
        open_timeout=5,
        **options,
    ) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": NEEDS_LABEL}}))
        yield ws


def event_message(
    servers: Servers, version: int, *, stream: str = "probe", reason: str = ""
) -> str:
    """An `outcome.needs_label` message as the events module publishes it (for rep_a1's agent),
    published straight on Redis by this test process."""
    return json.dumps(
        {
            "name": "outcome.needs_label",
            "organization_id": servers.organization_id,
            "stream": stream,
            "version": version,
            "data": {
                "outcomeId": version,
                "agentId": servers.agent_id,
                "actionId": version,
                "actionType": "email",
                "outcomeType": "email_reply",
                "reason": reason,
            },
        }
    )


def wait_until_live(servers: Servers, ws: ClientConnection) -> None:
    """Publish probes on Redis until the subscriber hears one: its subscription is then live
    (the protocol has no acknowledgement of `subscribe`)."""
    channel = f"{servers.prefix}org:{servers.organization_id}:outcome.needs_label"
    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + 10
    try:
        while True:
            client.publish(channel, event_message(servers, 0))
            try:
                message = json.loads(ws.recv(timeout=0.2))
                assert message["payload"]["data"]["outcomeNeedsLabel"]["stream"] == "probe"
                return
            except TimeoutError:
                assert time.monotonic() < deadline, "the subscription never became live"
    finally:
        client.close()


def next_real_event(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        assert message["type"] == "next" and "errors" not in message["payload"], message
        event = message["payload"]["data"]["outcomeNeedsLabel"]
        if event["stream"] != "probe":
            return event


def test_a_mutation_on_process_a_reaches_a_subscriber_on_process_b(servers: Servers) -> None:
    mail = "<fan-out@mail>"
    now = dt.datetime.now(dt.UTC)
    with (
        subscriber(servers, servers.b, "rep_a1") as on_b,
        subscriber(servers, servers.b, "rep_a2") as elsewhere,
    ):
        wait_until_live(servers, on_b)
        action = graphql(
            servers.a,
            servers.tokens["agent_a1"],
            RECORD_ACTION,
            {
                "input": {
                    "actionType": "email",
                    "confidence": 0.6,
                    "idempotencyKey": "fan-out",
                    "occurredAt": (now - dt.timedelta(hours=1)).isoformat(),
                    "messageExternalId": mail,
                }
            },
        )["data"]["recordAction"]
        assert action["errors"] == []
        sent = time.monotonic()
        signals = graphql(
            servers.a,
            servers.tokens["agent_a1"],
            RECORD_SIGNALS,
            {
                "input": {
                    "signals": [
                        {
                            "kind": "email.replied",
                            "source": "esp",
                            "externalId": "fan-out",
                            "occurredAt": (now - dt.timedelta(minutes=5)).isoformat(),
                            "messageExternalId": mail,
                        }
                    ]
                }
            },
        )["data"]["recordSignals"]
        assert signals == {"needsLabel": 1, "errors": []}
        event = next_real_event(on_b)
        assert time.monotonic() - sent < 5
        assert event["actionId"] == action["action"]["id"] and event["version"] >= 1
        assert event["agentId"] == str(GlobalID("Agent", str(servers.agent_id)))
        assert event["stream"] == "labels"
        with pytest.raises(TimeoutError):  # rep_a2 sees nothing of rep_a1's agent
            next_real_event(elsewhere, timeout=0.5)


def test_a_client_that_stops_reading_is_closed_and_never_holds_up_the_others(
    servers: Servers,
) -> None:
    # The stalled client buffers at most 4 messages, then stops reading its socket (whose receive
    # buffer is kept small: the kernel would otherwise grow it to tens of megabytes): the
    # server's sends block, its queue of SUBSCRIBER_QUEUE_SIZE (2,048) fills, and it is dropped.
    total = 6000
    per_round = 500
    channel = f"{servers.prefix}org:{servers.organization_id}:outcome.needs_label"
    stalled_client = subscriber(servers, servers.b, "manager_a", max_queue=4, receive_buffer=65536)
    with stalled_client as stalled, subscriber(servers, servers.b, "manager_a") as reader:
        wait_until_live(servers, stalled)
        wait_until_live(servers, reader)
        client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        listeners = [
            c
            for c in client.client_list()
            if c["name"] == f"{servers.prefix}listener:{servers.pid_b}"
        ]
        assert [c["psub"] for c in listeners] == ["1"]  # one pattern subscription for process B
        versions: list[int] = []
        try:
            # In rounds the reader keeps up with: process B must read Redis fast enough, or Redis
            # itself drops its connection (client-output-buffer-limit pubsub 32mb 8mb 60).
            for start in range(1, total + 1, per_round):
                pipeline = client.pipeline(transaction=False)
                for version in range(start, start + per_round):
                    big = secrets.token_hex(4096)
                    pipeline.publish(
                        channel, event_message(servers, version, stream="load", reason=big)
                    )
                pipeline.execute()
                versions += [
                    next_real_event(reader, timeout=30)["version"] for _ in range(per_round)
                ]
        finally:
            client.close()
        assert versions == list(range(1, total + 1))  # every one, in order
        received = 0
        with pytest.raises(ConnectionClosed) as closed:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                stalled.recv(timeout=5)
                received += 1
        assert closed.value.rcvd is not None, "the stalled client was never dropped"
        assert closed.value.rcvd.code == SUBSCRIPTION_LOST_CLOSE
        assert "messages behind" in closed.value.rcvd.reason
        assert received < total
        print("stalled received", received)
