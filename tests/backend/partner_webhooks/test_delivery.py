"""Partner webhooks end to end against a real HTTP receiver on 127.0.0.1: queued after commit
for subscribed endpoints, signed (checked here from the Standard Webhooks spec), retried with
backoff, given up after the last attempt, never held up by a slow endpoint, redelivered."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
from collections import Counter
from typing import Any

from sqlalchemy import select

from backend.events.service import record_event
from backend.handlers import open_state
from backend.partner_webhooks.delivery import deliver_webhooks
from backend.partner_webhooks.models import WebhookDelivery, WebhookEndpoint
from backend.partner_webhooks.outbox import MAX_ATTEMPTS, backoff
from backend.partner_webhooks.service import redeliver
from backend.settings import load_settings
from backend.unit_of_work import transaction
from tests.backend.conftest import Loop
from tests.backend.notifications.test_alert_emails import fire
from tests.backend.partner_webhooks.conftest import Receiver, add_endpoint
from tests.factories import NOW


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks, written from the spec: HMAC-SHA256 keyed with the base64 part of the
    `whsec_` secret, over "{id}.{timestamp}.{body}", base64, after "v1,"."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(s.split(",", 1)[1], expected)
        for s in headers["webhook-signature"].split(" ")
        if s.startswith("v1,")
    )


async def alert(loop: Loop) -> int:
    return await fire(loop, name="Org replies", scope="organization", channels=["dashboard"])


async def deliveries(loop: Loop) -> list[WebhookDelivery]:
    async with loop.state.sessions() as session:
        return list(await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


async def test_an_alert_is_delivered_signed_to_each_subscribed_endpoint(
    loop: Loop, receiver: Receiver
) -> None:
    subscribed = await add_endpoint(loop, receiver.url("/hook"), ["alert.changed"])
    await add_endpoint(loop, receiver.url("/policy-only"), ["policy.changed"])
    await add_endpoint(loop, receiver.url("/off"), ["alert.changed"], enabled=False)
    alert_id = await alert(loop)

    assert await deliver_webhooks(loop.state, now=NOW) == 1
    assert [r.path for r in receiver.requests] == ["/hook"]
    request = receiver.requests[0]
    assert subscribed.secret is not None and subscribed.secret.startswith("whsec_")
    assert verify(subscribed.secret, request.headers, request.body)
    assert not verify(subscribed.secret, request.headers, request.body + b" ")
    assert request.headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    body = json.loads(request.body)
    assert body["type"] == "alert.changed"
    assert body["data"]["alertId"] == alert_id and body["data"]["change"] == "created"
    [row] = await deliveries(loop)
    assert row.status == "delivered" and row.delivered_at == NOW
    assert request.headers["webhook-id"] == row.message_id
    assert [(e["attempt"], e["status_code"], e["error"]) for e in row.attempt_log] == [
        (1, 200, None)
    ]
    # Delivered rows are not sent again.
    assert await deliver_webhooks(loop.state, now=NOW + dt.timedelta(hours=1)) == 0
    assert len(receiver.requests) == 1


async def test_the_secret_is_stored_encrypted(loop: Loop, receiver: Receiver) -> None:
    saved = await add_endpoint(loop, receiver.url("/hook"))
    async with loop.state.sessions() as session:
        stored = await session.get(WebhookEndpoint, saved.endpoint.id)
    assert stored is not None and saved.secret is not None
    assert saved.secret not in stored.secret_encrypted
    assert saved.secret.split("_", 1)[1] not in stored.secret_encrypted


async def test_a_500_is_retried_after_the_backoff_with_the_same_id(
    loop: Loop, receiver: Receiver
) -> None:
    saved = await add_endpoint(loop, receiver.url("/hook"))
    receiver.script["/hook"] = [500]
    await alert(loop)
    assert await deliver_webhooks(loop.state, now=NOW) == 0
    [row] = await deliveries(loop)
    assert row.status == "pending" and row.last_status_code == 500
    assert row.next_attempt_at == NOW + backoff(1)
    # Not due yet: nothing is sent.
    assert await deliver_webhooks(loop.state, now=NOW + backoff(1) - dt.timedelta(seconds=1)) == 0
    assert len(receiver.requests) == 1
    assert await deliver_webhooks(loop.state, now=NOW + backoff(1)) == 1
    [row] = await deliveries(loop)
    assert row.status == "delivered"
    assert [e["status_code"] for e in row.attempt_log] == [500, 200]
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == row.message_id
    assert saved.secret is not None and verify(saved.secret, second.headers, second.body)


async def test_it_fails_after_the_last_attempt_keeping_each_answer(
    loop: Loop, receiver: Receiver
) -> None:
    await add_endpoint(loop, receiver.url("/down"))
    receiver.script["/down"] = [503] * (MAX_ATTEMPTS + 5)
    await alert(loop)
    now = NOW
    for _ in range(MAX_ATTEMPTS + 2):
        await deliver_webhooks(loop.state, now=now)
        now += dt.timedelta(hours=2)
    [row] = await deliveries(loop)
    assert row.status == "failed" and row.attempts == MAX_ATTEMPTS
    assert [e["status_code"] for e in row.attempt_log] == [503] * MAX_ATTEMPTS
    assert len(receiver.requests) == MAX_ATTEMPTS


async def test_an_unreachable_endpoint_keeps_the_error(loop: Loop, receiver: Receiver) -> None:
    closed = receiver.url("/hook").replace(str(receiver.server.server_address[1]), "1")
    await add_endpoint(loop, closed)
    await alert(loop)
    assert await deliver_webhooks(loop.state, now=NOW) == 0
    [row] = await deliveries(loop)
    assert row.status == "pending" and row.last_status_code is None
    assert row.last_error and "refused" in row.last_error.lower()


async def test_a_slow_endpoint_times_out_and_holds_up_no_other(
    loop: Loop, receiver: Receiver
) -> None:
    await add_endpoint(loop, receiver.url("/slow"))
    await add_endpoint(loop, receiver.url("/fast"))
    await alert(loop)
    assert await deliver_webhooks(loop.state, now=NOW, timeout=0.5) == 1
    by_path = {}
    async with loop.state.sessions() as session:
        for row, url in await session.execute(
            select(WebhookDelivery, WebhookEndpoint.url).join(
                WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id
            )
        ):
            by_path[url.rsplit("/", 1)[1]] = row
    assert by_path["fast"].status == "delivered"
    assert by_path["slow"].status == "pending"
    assert by_path["slow"].last_error is not None
    assert "no answer within 0.5 s" in by_path["slow"].last_error


async def test_a_redelivery_sends_a_delivered_event_again(loop: Loop, receiver: Receiver) -> None:
    await add_endpoint(loop, receiver.url("/hook"))
    await alert(loop)
    await deliver_webhooks(loop.state, now=NOW)
    [row] = await deliveries(loop)
    later = NOW + dt.timedelta(days=1)
    async with transaction(loop.state.sessions) as session:
        again = await redeliver(session, loop.admin, row.id, now=later)
    assert again.status == "pending"
    assert await deliver_webhooks(loop.state, now=later) == 1
    [row] = await deliveries(loop)
    assert row.status == "delivered" and row.delivered_at == later
    assert [e["at"] for e in row.attempt_log] == [NOW.isoformat(), later.isoformat()]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len(receiver.requests) == 2


async def test_policy_and_calibration_events_are_queued_once_per_endpoint(
    loop: Loop, receiver: Receiver
) -> None:
    await add_endpoint(loop, receiver.url("/all"))
    await add_endpoint(loop, receiver.url("/cal"), ["calibration.changed"])
    world: Any = loop.world
    north = world.orgs["north"].id
    async with transaction(loop.state.sessions) as session:
        await record_event(
            session,
            name="policy.changed",
            organization_id=north,
            stream="policy:agent:1:email",
            data={"agentId": 1, "escalateBelow": 0.4},
        )
        await record_event(
            session,
            name="calibration.changed",
            organization_id=north,
            stream="calibration:agent:1:email",
            data={"verdict": "overconfident"},
        )
        await record_event(  # another organisation's event reaches none of north's endpoints
            session,
            name="policy.changed",
            organization_id=world.orgs["south"].id,
            stream="policy:agent:9:email",
            data={},
        )
    rows = await deliveries(loop)
    assert sorted(r.event_type for r in rows) == [
        "calibration.changed",
        "calibration.changed",
        "policy.changed",
    ]
    # The same event handled again (a retried dispatch) queues nothing more.
    from backend.events.service import Event
    from backend.partner_webhooks.subscribers import queue_live_event_webhooks

    await queue_live_event_webhooks(
        loop.state,
        [Event("policy.changed", north, "policy:agent:1:email", 1, {"agentId": 1})],
    )
    assert len(await deliveries(loop)) == 3
    assert await deliver_webhooks(loop.state, now=NOW) == 3
    assert sorted(r.path for r in receiver.requests) == ["/all", "/all", "/cal"]


async def test_two_workers_at_once_deliver_each_delivery_once(
    loop: Loop, receiver: Receiver, database_url: str
) -> None:
    """Two workers (each its own state: engine, connections, sessions) run a pass at the same
    moment over the same due deliveries: the claim gives each delivery to one of them."""
    for path in ("/a", "/b", "/c"):
        await add_endpoint(loop, receiver.url(path), ["alert.changed"])
    for _ in range(4):
        await alert(loop)  # 4 alerts to 3 endpoints: 12 deliveries
    rows = await deliveries(loop)
    assert len(rows) == 12 and {r.status for r in rows} == {"pending"}
    other = open_state(
        load_settings(database_url=database_url, partner_webhooks_allow_private_urls=True)
    )
    try:
        delivered = await asyncio.gather(
            deliver_webhooks(loop.state, now=NOW), deliver_webhooks(other, now=NOW)
        )
    finally:
        await other.close()
    assert sum(delivered) == 12
    received = Counter(r.headers["webhook-id"] for r in receiver.requests)
    rows = await deliveries(loop)
    assert received == {r.message_id: 1 for r in rows}  # each reached the receiver once
    assert [(r.status, r.attempts) for r in rows] == [("delivered", 1)] * 12
    # Nothing is left for a later pass of either.
    later = NOW + dt.timedelta(hours=1)
    assert await deliver_webhooks(loop.state, now=later) == 0
    assert len(receiver.requests) == 12
