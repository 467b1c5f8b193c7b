"""Partner webhooks over GraphQL: the secret once, field-named errors that change nothing,
admins and executives of the organisation only, redelivery by id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from backend.database import create_engine, create_sessionmaker
from backend.partner_webhooks.models import WebhookEndpoint
from tests.graphql_schema.conftest import Api

UPSERT = """mutation($input: UpsertWebhookEndpointInput!) { upsertWebhookEndpoint(input: $input) {
  endpoint { id url eventTypes enabled } secret errors { code field message } } }"""
ENDPOINTS = "{ webhookEndpoints(first: 10) { totalCount edges { node { id url } } } }"
DELETE = """mutation($id: ID!) { deleteWebhookEndpoint(input: {id: $id}) {
  endpoint { id } errors { code field } } }"""
DELIVERIES = """query($status: WebhookDeliveryStatus) { webhookDeliveries(status: $status) {
  totalCount } }"""
REDELIVER = """mutation($id: ID!) { redeliverWebhook(input: {id: $id}) {
  delivery { id } errors { code field } } }"""


def upsert(api: Api, as_: str, **given: Any) -> dict[str, Any]:
    answer = api.query(UPSERT, {"input": given}, as_=as_)
    assert "errors" not in answer, answer
    return answer["data"]["upsertWebhookEndpoint"]


async def stored(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(WebhookEndpoint)))
    finally:
        await engine.dispose()


async def test_an_admin_or_executive_creates_an_endpoint_and_sees_its_secret_once(
    api: Api,
) -> None:
    created = upsert(
        api, "exec_n", url="http://partner.example:9/hook", eventTypes=["ALERT_CHANGED"]
    )
    assert created["errors"] == [] and created["secret"].startswith("whsec_")
    endpoint = created["endpoint"]
    assert endpoint["eventTypes"] == ["ALERT_CHANGED"] and endpoint["enabled"] is True
    changed = upsert(
        api,
        "exec_n",
        id=endpoint["id"],
        url="https://partner.example/hook",
        eventTypes=["POLICY_CHANGED", "CALIBRATION_CHANGED"],
    )
    assert (
        changed["secret"] is None and changed["endpoint"]["url"] == "https://partner.example/hook"
    )
    listed = api.query(ENDPOINTS, as_="exec_n")["data"]["webhookEndpoints"]
    assert [e["node"]["id"] for e in listed["edges"]] == [endpoint["id"]]
    # Another organisation: nothing listed, the id unknown.
    assert api.query(ENDPOINTS, as_="exec_s")["data"]["webhookEndpoints"]["totalCount"] == 0
    foreign = api.query(DELETE, {"id": endpoint["id"]}, as_="exec_s")["data"]
    assert foreign["deleteWebhookEndpoint"]["errors"] == [{"code": "NOT_FOUND", "field": "id"}]
    deleted = api.query(DELETE, {"id": endpoint["id"]}, as_="exec_n")["data"]
    assert deleted["deleteWebhookEndpoint"]["errors"] == []
    assert api.query(ENDPOINTS, as_="exec_n")["data"]["webhookEndpoints"]["totalCount"] == 0


async def test_a_bad_url_is_refused_by_field_and_changes_nothing(
    api: Api, database_url: str
) -> None:
    refused = upsert(api, "exec_n", url="file:///etc/passwd", eventTypes=["ALERT_CHANGED"])
    assert refused["endpoint"] is None and refused["secret"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID", "url")]
    empty = upsert(api, "exec_n", url="https://partner.example/", eventTypes=[])
    assert [(e["code"], e["field"]) for e in empty["errors"]] == [("INVALID", "eventTypes")]
    # Private addresses are refused by default (PARTNER_WEBHOOKS_ALLOW_PRIVATE_URLS is off).
    for url, why in (
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://localhost:8000/hook", "localhost"),
    ):
        private = upsert(api, "exec_n", url=url, eventTypes=["ALERT_CHANGED"])
        assert private["endpoint"] is None and private["secret"] is None
        [error] = private["errors"]
        assert (error["code"], error["field"]) == ("INVALID", "url") and why in error["message"]
    assert await stored(database_url) == 0
    # ... and allowed where the deployment says so (development, a receiver on this machine).
    state = api.client.app.state.app
    state.settings = state.settings.model_copy(update={"partner_webhooks_allow_private_urls": True})
    local = upsert(api, "exec_n", url="http://127.0.0.1:8000/hook", eventTypes=["ALERT_CHANGED"])
    assert local["errors"] == [] and local["endpoint"]["url"] == "http://127.0.0.1:8000/hook"
    assert await stored(database_url) == 1


async def test_reps_and_managers_are_refused(api: Api, database_url: str) -> None:
    for who in ("rep_a1", "manager_a"):
        refused = upsert(api, who, url="https://partner.example/", eventTypes=["ALERT_CHANGED"])
        assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
        answer = api.query(DELIVERIES, {"status": "FAILED"}, as_=who)
        assert answer["data"] is None or answer["data"]["webhookDeliveries"] is None
    assert await stored(database_url) == 0
    assert api.query(DELIVERIES, {"status": "FAILED"}, as_="exec_n")["data"] == {
        "webhookDeliveries": {"totalCount": 0}
    }
    unknown = api.query(REDELIVER, {"id": "V2ViaG9va0RlbGl2ZXJ5Ojk5"}, as_="exec_n")["data"]
    assert unknown["redeliverWebhook"]["errors"] == [{"code": "NOT_FOUND", "field": "id"}]


NODE = """query($id: ID!) { node(id: $id) { id ... on WebhookEndpoint { url } } }"""


async def test_an_endpoint_opens_through_node_only_for_who_manages_it(api: Api) -> None:
    created = upsert(
        api, "exec_n", url="https://partner.example/hook", eventTypes=["ALERT_CHANGED"]
    )
    endpoint_id = created["endpoint"]["id"]
    opened = api.query(NODE, {"id": endpoint_id}, as_="exec_n")
    assert opened["data"]["node"] == {"id": endpoint_id, "url": "https://partner.example/hook"}
    # a manager or a rep of the organisation, and another organisation's executive: unknown
    for who in ("manager_a", "rep_a1", "exec_s"):
        answer = api.query(NODE, {"id": endpoint_id}, as_=who)
        assert answer["data"] == {"node": None}, (who, answer)
