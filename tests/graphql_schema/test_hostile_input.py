"""Hostile input gets a coded 4xx answer, never a 500 nor the masked "Unexpected error.":
bodies too large or too deep, bodies that are no GraphQL request, tokens, ids, cursors, dates
and strings no client of ours would send (issue #16). Each class is pinned by a test, and a
property-based fuzzer over the same classes keeps them closed."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
import json
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from backend.app import create_app
from backend.auth.models import ApiClient, ApiClientKind
from backend.auth.tokens import TOKEN_ISSUER, new_api_key
from backend.database import create_engine, create_sessionmaker
from backend.settings import DEVELOPMENT_SECRET_KEY, load_settings
from backend.unit_of_work import transaction
from tests.graphql_schema.conftest import Api

MASKED = "Unexpected error."
LIMIT = 1024 * 1024  # the default limit of bodies, /graphql's and the webhooks'


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """The real app on each database, with its default limits, and no world (nothing is read
    nor written: one app serves the module's tests)."""
    database_url = request.getfixturevalue(f"{request.param}_database_url")
    settings = load_settings(database_url=database_url, worker_in_process=False)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def graphql_errors(response: Any) -> list[dict[str, Any]]:
    """The errors of a refused request, each with a code (and never the masked message)."""
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    errors = response.json()["errors"]
    assert errors, response.text
    for error in errors:
        assert error["message"] != MASKED, response.text
        assert error["extensions"]["code"], response.text
    return list(errors)


# Request bodies bounded -------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_from_its_content_length(client: TestClient) -> None:
    body = b'{"query": "{ __typename }", "pad": "' + b"x" * LIMIT + b'"}'
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert [e["extensions"]["code"] for e in graphql_errors(response)] == ["payload_too_large"]


def test_a_streamed_body_is_cut_off_once_it_passes_the_limit(client: TestClient) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield b'{"query": "{ __typename }", "pad": "'
        for _ in range(1100):
            sent.append(1)
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert [e["extensions"]["code"] for e in graphql_errors(response)] == ["payload_too_large"]


def test_a_webhook_body_over_the_limit_is_refused_with_a_code(client: TestClient) -> None:
    for path in ("/webhooks/email-events", "/webhooks/slack/interactions", "/auth/sign-in"):
        response = client.post(path, content=b"x" * (LIMIT + 1))
        assert response.status_code == 413, (path, response.text)
        assert response.json()["errors"][0]["code"] == "payload_too_large"


def test_a_body_within_the_limit_is_answered(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "data": {"__typename": "Query"},
        "extensions": response.json()["extensions"],
    }


@pytest.mark.parametrize("depth", [65, 3_000, 100_000])
def test_variables_nested_deeper_than_the_limit_are_refused(client: TestClient, depth: int) -> None:
    variables = "[" * depth + "]" * depth
    body = '{"query": "{ __typename }", "variables": {"x": ' + variables + "}}"
    response = client.post(
        "/graphql", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert [e["extensions"]["code"] for e in graphql_errors(response)] == ["invalid"]


def test_variables_nested_within_the_limit_are_read(client: TestClient) -> None:
    nested: Any = 1
    for _ in range(40):
        nested = [nested]
    response = client.post("/graphql", json={"query": "{ __typename }", "variables": {"x": nested}})
    assert response.status_code == 200, response.text


# Malformed requests: a coded 4xx, never a 500 ----------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ __typename \xb2 }"}',  # not UTF-8
        b"\xff\xfe\x00",
        b'"hello"',
        b"123",
        b"null",
        b"[]",
        b'[{"query": "{ __typename }"}]',
        b'["hello"]',
        b"{not json",
        b"",
    ],
)
def test_a_body_that_is_no_graphql_request_is_refused(client: TestClient, body: bytes) -> None:
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert [e["extensions"]["code"] for e in graphql_errors(response)] == ["invalid"]


@pytest.mark.parametrize(
    "request_body",
    [
        {"query": "{ __typename }", "operationName": 123},
        {"query": "{ __typename }", "operationName": {"a": 1}},
        {"query": 123},
        {"query": "{ __typename }", "variables": "hello"},
        {"query": "{ __typename }", "extensions": []},
        {"query": "{ __typename }", "extensions": {"persistedQuery": "x"}},
        {"query": "{ __typename }", "extensions": {"persistedQuery": {"sha256Hash": 5}}},
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": ["a"]}}},
        {"query": "{ __typename }", "documentId": {"a": 1}},
        {"query": "{ __typename }", "documentId": "sha256:" + "0" * 64},
        {},
    ],
)
def test_a_request_with_members_of_the_wrong_kind_is_refused_or_ignored(
    client: TestClient, request_body: dict[str, Any]
) -> None:
    response = client.post("/graphql", json=request_body)
    assert response.status_code < 500, response.text
    if response.status_code != 200:  # a member we do not use may be ignored; else refused
        graphql_errors(response)


def user_token(sub: str, org: Any = 1) -> str:
    now = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp())
    claims = {"iss": TOKEN_ISSUER, "sub": sub, "org": org, "iat": now, "exp": 2**40}
    return jwt.encode(claims, DEVELOPMENT_SECRET_KEY, algorithm="HS256")


@pytest.mark.parametrize(
    "token",
    [
        user_token("1" * 23),
        user_token("9" * 19),
        user_token("-1"),
        user_token("0"),
        user_token("1_0"),
        user_token(" 1"),
        user_token("²"),
        user_token("1", org="1" * 23),
        user_token("1", org=None),
    ],
)
def test_a_signed_token_naming_no_possible_user_is_an_invalid_token(
    client: TestClient, token: str
) -> None:
    response = client.post(
        "/graphql",
        json={"query": "{ viewer { role } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401
    assert [e["extensions"]["code"] for e in graphql_errors(response)] == ["unauthenticated"]
    assert "invalid or expired token" in response.text


def test_a_subscription_sent_by_post_is_refused_with_a_code(client: TestClient) -> None:
    query = "subscription { calibrationChanged { __typename } }"
    response = client.post("/graphql", json={"query": query})
    assert 400 <= response.status_code < 500, response.text
    graphql_errors(response)


# Coded errors where the masked "Unexpected error." was --------------------------------------


def gid(kind: str, row_id: int | str) -> str:
    return base64.b64encode(f"{kind}:{row_id}".encode()).decode()


def cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def ask(api: Api, query: str, variables: dict[str, Any] | None = None, *, as_: str) -> Any:
    """`api.query`, the body encoded as ASCII JSON (it may hold lone surrogates)."""
    response = api.client.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables or {}}),
        headers={
            "content-type": "application/json",
            "Authorization": f"Bearer {api.tokens[as_]}",
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def coded(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(code, field) of each error of an answer, none of them masked."""
    errors = body.get("errors") or []
    assert all(e["message"] != MASKED for e in errors), body
    return [(e["extensions"]["code"], e["extensions"].get("field")) for e in errors]


NODE_TYPES = ("Agent", "Action", "Outcome", "Feedback", "User", "Team", "Organization", "Thread")


def test_a_global_id_beyond_64_bits_is_an_unknown_id(api: Api) -> None:
    for kind in NODE_TYPES:
        for row_id in ["9" * 24, str(2**63), str(2**64), "-1", "0", "1e3", "\u0661", " 1"]:
            body = ask(
                api,
                "query($id: ID!) { node(id: $id) { id } }",
                {"id": gid(kind, row_id)},
                as_="exec_n",
            )
            assert coded(body) == [] and body["data"] == {"node": None}, (kind, row_id, body)


def test_the_global_id_of_the_issue_is_an_unknown_id(api: Api) -> None:
    body = ask(api, '{ node(id: "QWdlbnQ6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5") { id } }', as_="exec_n")
    assert coded(body) == [] and body["data"] == {"node": None}


FORGED_CURSORS = [
    cursor(["2026-01-01T00:00:00Z", 10**30]),
    cursor(["2026-01-01T00:00:00Z", -(10**30)]),
    cursor(["9999-12-31T23:59:59-14:00", 1]),
    cursor(["0001-01-01T00:00:00+14:00", 1]),
    cursor(["2026-01-01T00:00:00\u0000Z", 1]),
    cursor(["2026-01-01T00:00:00Z", 1.5]),
    cursor(["2026-01-01T00:00:00Z", True]),
    base64.urlsafe_b64encode(b"[" * 100_000 + b"]" * 100_000).decode(),
    base64.urlsafe_b64encode(b'["\\ud83d", 1]').decode(),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    "%%%",
    "\ud83d",
    "x" * 10_000,
]


def test_a_forged_cursor_is_an_invalid_after(api: Api) -> None:
    for field, after in itertools.product(
        ["actions", "outcomes", "feedback", "labelQueue", "alerts"], FORGED_CURSORS
    ):
        body = ask(
            api,
            f"query($after: String) {{ {field}(first: 2, after: $after) {{ totalCount }} }}",
            {"after": after},
            as_="exec_n",
        )
        assert coded(body) == [("invalid", "after")], (after[:80], body)


def test_a_day_at_the_ends_of_the_calendar_is_invalid(api: Api) -> None:
    for day in ["0001-01-01", "9999-12-31", "0001-01-02", "9999-12-30"]:
        for end in ["from", "to"]:
            body = ask(
                api, f'{{ executiveDashboard({end}: "{day}") {{ __typename }} }}', as_="exec_n"
            )
            assert coded(body) == [("invalid", end)], (day, end, body)


EXTREME_TIMES = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-01-01T00:00:00+23:59",
]


def test_a_time_at_the_ends_of_the_calendar_is_invalid(api: Api) -> None:
    for moment, query in itertools.product(
        EXTREME_TIMES,
        (
            "query($t: DateTime) { actions(filter: {from: $t}) { totalCount } }",
            "query($t: DateTime) { outcomes(filter: {to: $t}) { totalCount } }",
            "query($t: DateTime) { feedback(filter: {from: $t}) { totalCount } }",
        ),
    ):
        body = ask(api, query, {"t": moment}, as_="exec_n")
        codes = coded(body)
        assert len(codes) == 1 and codes[0][0] == "invalid", (query, body)
        assert codes[0][1] in ("filter.from", "filter.to"), (query, body)


@pytest.mark.parametrize("text", ["\ud83d", "a\udc00b", "nul\u0000"])
def test_a_string_no_database_can_store_is_invalid_with_its_field(api: Api, text: str) -> None:
    actions = ask(
        api,
        "query($t: [String!]) { actions(filter: {actionTypes: $t}) { totalCount } }",
        {"t": ["email", text]},
        as_="exec_n",
    )
    assert coded(actions) == [("invalid", "filter.actionTypes[1]")], actions
    literal = json.dumps(text)  # a GraphQL string literal: JSON's escapes are GraphQL's
    inline = ask(
        api, f"{{ actions(filter: {{actionTypes: [{literal}]}}) {{ totalCount }} }}", as_="exec_n"
    )
    # GraphQL's parser refuses a lone surrogate's escape: a syntax error, which names no field
    field = "filter.actionTypes[0]" if "\x00" in text else None
    assert coded(inline) == [("invalid", field)], inline
    action = api.world.actions["rep_a1"][0]
    feedback = ask(
        api,
        "mutation($input: SubmitFeedbackInput!) { submitFeedback(input: $input) {"
        " errors { code field } } }",
        {
            "input": {
                "actionId": gid("Action", action.id),
                "rating": 4,
                "comment": text,
                "channel": "DASHBOARD",
            }
        },
        as_="rep_a1",
    )
    assert coded(feedback) == [], feedback  # a mutation answers in its payload's user errors
    assert feedback["data"]["submitFeedback"]["errors"] == [
        {"code": "INVALID", "field": "comment"}
    ], feedback


# Production names no fields ------------------------------------------------------------------


@pytest.mark.parametrize("env", ["production", "development"])
def test_production_answers_no_field_suggestions(sqlite_database_url: str, env: str) -> None:
    settings = load_settings(
        env=env, secret_key="p" * 40, database_url=sqlite_database_url, worker_in_process=False
    )
    with TestClient(create_app(settings)) as production:
        for query, variables in (
            ("{ viewe { role } }", {}),
            ("{ viewer { rol } }", {}),
            ("{ actions(filtr: {}) { totalCount } }", {}),
            (
                "query($c: FeedbackChannel!) { feedback(filter: {channel: $c}) { totalCount } }",
                {"c": "SLAK"},
            ),
        ):
            response = production.post("/graphql", json={"query": query, "variables": variables})
            errors = graphql_errors(response)
            suggested = any("Did you mean" in e["message"] for e in errors)
            assert suggested is (env == "development"), (query, errors)


# API keys read users only with a scope that grants it ---------------------------------------


def partner_key(database_url: str, organization_id: int, scopes: list[str]) -> str:
    """A partner key with exactly ``scopes`` (stored as issued; the kinds' allowed scopes are
    the key service's to judge)."""

    async def insert() -> str:
        engine = create_engine(database_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                new = new_api_key()
                session.add(
                    ApiClient(
                        organization_id=organization_id,
                        name="scoped",
                        kind=ApiClientKind.PARTNER.value,
                        key_prefix=new.prefix,
                        key_hash=new.key_hash,
                        scopes=sorted(scopes),
                    )
                )
            return new.key
        finally:
            await engine.dispose()

    return asyncio.run(insert())


USER_FIELDS = "id name role email team { name }"


def test_keys_without_a_users_scope_see_no_user(api: Api) -> None:
    rep = api.world.users["rep_a1"]
    for key in ("agent_a1", "partner_n"):
        node = ask(
            api,
            f'{{ node(id: "{gid("User", rep.id)}") {{ ... on User {{ {USER_FIELDS} }} }} }}',
            as_=key,
        )
        assert coded(node) == [] and node["data"] == {"node": None}, (key, node)
        for field in ("email", "role", "team { name }"):
            owners = ask(api, f"{{ agents {{ owner {{ name {field} }} }} }}", as_=key)
            assert owners["data"]["agents"], (key, owners)
            hidden = [
                a["owner"] is None or a["owner"].get("team") is None
                for a in owners["data"]["agents"]
            ]
            assert all(hidden), (key, owners)
            assert {c for c, _ in coded(owners)} == {"forbidden"}, (key, owners)
            assert rep.email not in json.dumps(owners), (key, owners)
        # the name of the person behind a row the key reads (its agent's owner) is no secret
        names = ask(api, "{ agents { owner { name } } }", as_=key)
        assert coded(names) == [] and {"owner": {"name": rep.name}} in names["data"]["agents"]


def test_a_key_with_read_users_sees_names_and_roles_and_emails_only_with_their_scope(
    api: Api, database_url: str
) -> None:
    rep = api.world.users["rep_a1"]
    north = rep.organization_id
    api.tokens["users"] = partner_key(database_url, north, ["read:users"])
    api.tokens["emails"] = partner_key(database_url, north, ["read:users", "read:users:email"])
    query = (
        f'{{ node(id: "{gid("User", rep.id)}") {{ ... on User {{ name role team {{ name }} }} }} }}'
    )
    for key in ("users", "emails"):
        body = ask(api, query, as_=key)
        assert coded(body) == [] and body["data"]["node"]["name"] == rep.name, (key, body)
    email = f'{{ node(id: "{gid("User", rep.id)}") {{ ... on User {{ email }} }} }}'
    refused = ask(api, email, as_="users")
    assert coded(refused) == [("forbidden", None)] and rep.email not in json.dumps(refused)
    granted = ask(api, email, as_="emails")
    assert coded(granted) == [] and granted["data"]["node"]["email"] == rep.email


def test_people_still_see_the_users_of_their_organisation(api: Api) -> None:
    rep = api.world.users["rep_a1"]
    body = ask(
        api,
        f'{{ node(id: "{gid("User", rep.id)}") {{ ... on User {{ {USER_FIELDS} }} }} }}',
        as_="exec_n",
    )
    assert coded(body) == [] and body["data"]["node"]["email"] == rep.email


# The fuzzer: the classes above stay closed ---------------------------------------------------

FUZZ_SEED = 20261207
CODES = {
    "unauthenticated",
    "forbidden",
    "not_found",
    "invalid",
    "required",
    "conflict",
    "cost_exceeded",
    "rate_limited",
    "payload_too_large",
    "method_not_allowed",
    "PERSISTED_QUERY_NOT_FOUND",  # Apollo's code, which its clients read
}
FUZZ = settings(  # a fixed seed and bounded examples: the same cases on every run
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HOSTILE_CHARACTERS = [
    "\x00",
    "\ud83d",
    "\udc00",
    "\u0661",
    "\u00b2",
    "\ufeff",
    "\n",
    "'",
    '"',
    "\\",
]
hostile_text = st.lists(
    st.one_of(st.text(max_size=6), st.sampled_from(HOSTILE_CHARACTERS)), max_size=5
).map("".join)
huge_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**62, max_value=2**70),
    st.integers(min_value=-(2**70), max_value=-(2**62)),
    st.sampled_from([0, -1, 2**63 - 1, 2**63, 2**64, 10**30]),
)
numbers_as_text = st.one_of(
    huge_numbers.map(str), st.sampled_from(["1e3", " 1", "1_0", "+1", "0x1", "", "9" * 5000])
)
TYPES = ["Agent", "Action", "Outcome", "Feedback", "User", "Team", "Organization", "Thread", "X"]
global_ids = st.one_of(
    st.builds(
        lambda kind, row: base64.b64encode(
            f"{kind}:{row}".encode("utf-8", "surrogatepass")
        ).decode(),
        st.sampled_from(TYPES),
        st.one_of(numbers_as_text, hostile_text),
    ),
    hostile_text,
)
years = st.sampled_from(["0001", "0002", "1899", "1900", "2026", "2999", "3000", "9998", "9999"])
days = st.builds(
    lambda y, m, d: f"{y}-{m}-{d}",
    years,
    st.sampled_from(["01", "02", "12", "13", "00"]),
    st.sampled_from(["01", "28", "29", "31", "32"]),
)
offsets = st.sampled_from(["Z", "+00:00", "+14:00", "-14:00", "+14:01", "-23:59", "+23:59", ""])
times = st.builds(
    lambda day, clock, offset: f"{day}T{clock}{offset}",
    days,
    st.sampled_from(["00:00:00", "23:59:59", "23:59:59.999999", "24:00:00"]),
    offsets,
)
key_values = st.one_of(times, huge_numbers, hostile_text, st.none(), st.booleans(), st.floats())
cursors = st.one_of(
    st.lists(key_values, max_size=3).map(cursor),
    st.integers(min_value=1, max_value=3000).map(
        lambda n: base64.urlsafe_b64encode(b"[" * n + b"]" * n).decode()
    ),
    hostile_text,
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), huge_numbers, st.floats(), hostile_text),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=8,
)
# (query with one variable $v, strategy of its values)
ARGUMENTS = [
    ("query($v: ID!) { node(id: $v) { id ... on User { name role email } } }", global_ids),
    ("query($v: ID) { actions(filter: {agentId: $v, teamId: $v}) { totalCount } }", global_ids),
    ('query($v: ID) { calibration(actionType: "email", agentId: $v) { __typename } }', global_ids),
    ("query($v: ID) { alerts(teamId: $v) { totalCount } }", global_ids),
    ("query($v: String) { actions(first: 2, after: $v) { totalCount } }", cursors),
    ("query($v: String) { outcomes(first: 2, after: $v) { totalCount } }", cursors),
    ("query($v: String) { feedback(first: 2, after: $v) { totalCount } }", cursors),
    ("query($v: String) { labelQueue(first: 2, after: $v) { totalCount } }", cursors),
    ("query($v: String) { alerts(first: 2, after: $v) { totalCount } }", cursors),
    ("query($v: Date) { executiveDashboard(from: $v) { __typename } }", days),
    ("query($v: Date) { executiveDashboard(to: $v) { __typename } }", days),
    ('query($v: Date) { calibration(actionType: "email", to: $v) { __typename } }', days),
    ("query($v: DateTime) { actions(filter: {from: $v}) { totalCount } }", times),
    ("query($v: DateTime) { outcomes(filter: {to: $v}) { totalCount } }", times),
    ("query($v: DateTime) { feedback(filter: {from: $v}) { totalCount } }", times),
    (
        "query($v: [String!]) { actions(filter: {actionTypes: $v}) { totalCount } }",
        st.lists(hostile_text, max_size=3),
    ),
    ("query($v: String!) { calibration(actionType: $v) { __typename } }", hostile_text),
    ("query($v: Int) { actions(first: $v) { totalCount } }", huge_numbers),
]
ROLES = st.sampled_from(["exec_n", "rep_a1", "partner_n", "agent_a1"])


def problems(response: Any) -> list[str]:
    """What is wrong with an answer to hostile input: a 5xx, no JSON, an error without one of
    the documented codes, or the masked message."""
    if response.status_code >= 500:
        return [f"HTTP {response.status_code}: {response.text[:500]}"]
    try:
        body = response.json()
    except ValueError:
        return [f"not JSON: {response.text[:500]}"]
    found = []
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if error.get("message") == MASKED:
            found.append(f"masked: {error}")
        elif code not in CODES:
            found.append(f"no code: {error}")
    return found


def post(api: Api, body: bytes, role: str | None) -> Any:
    headers = {"content-type": "application/json"}
    if role:
        headers["Authorization"] = f"Bearer {api.tokens[role]}"
    return api.client.post("/graphql", content=body, headers=headers)


@seed(FUZZ_SEED)
@FUZZ
@given(data=st.data())
def test_fuzzed_arguments_get_a_coded_answer(api: Api, data: st.DataObject) -> None:
    query, values = data.draw(st.sampled_from(ARGUMENTS))
    value = data.draw(values)
    role = data.draw(ROLES)
    as_variable = json.dumps({"query": query, "variables": {"v": value}}).encode()
    found = problems(post(api, as_variable, role))
    assert not found, (query, value, role, found)
    if isinstance(value, str):  # the same value as a literal in the document
        literal = query.split("{", 1)[1].rsplit("}", 1)[0].replace("$v", json.dumps(value))
        inline = json.dumps({"query": "{" + literal + "}"}).encode()
        found = problems(post(api, inline, role))
        assert not found, (literal, role, found)


request_members = st.fixed_dictionaries(
    {},
    optional={
        "query": st.one_of(
            st.sampled_from(
                [
                    "{ viewer { role } }",
                    "subscription { calibrationChanged { __typename } }",
                    "mutation { __typename }",
                    "query A { __typename } query B { __typename }",
                    "{ viewer { role } ",
                    "{ __schema { types { name } } }",
                ]
            ),
            hostile_text,
            json_values,
        ),
        "variables": json_values,
        "operationName": json_values,
        "extensions": json_values,
        "documentId": json_values,
    },
)
bodies = st.one_of(
    request_members.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.integers(min_value=1, max_value=5000).map(
        lambda n: b'{"variables": ' + b"[" * n + b"]" * n + b"}"
    ),
)


@seed(FUZZ_SEED)
@FUZZ
@given(body=bodies, role=st.one_of(st.none(), ROLES))
def test_fuzzed_bodies_get_a_coded_answer(api: Api, body: bytes, role: str | None) -> None:
    found = problems(post(api, body, role))
    assert not found, (body[:300], role, found)


def test_a_subscription_with_hostile_arguments_gets_a_coded_error(api: Api) -> None:
    from tests.graphql_schema.test_subscriptions import CALIBRATION, POLICY, connect

    with connect(api, "exec_n") as live:
        for index, (query, variables, field) in enumerate(
            [
                (POLICY, {"t": "nul\x00"}, "actionType"),
                (POLICY, {"t": "\ud83d"}, "actionType"),
                (CALIBRATION, {"a": gid("Agent", "9" * 24)}, "agentId"),
            ]
        ):
            live.send(
                {
                    "id": str(index),
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables},
                }
            )
            message = live.receive()  # the refusal, then the end of the subscription
            assert message["type"] == "next" and message["id"] == str(index), message
            [error] = message["payload"]["errors"]
            assert error["message"] != MASKED and error["extensions"]["field"] == field, message
            assert live.receive() == {"id": str(index), "type": "complete"}


@pytest.mark.parametrize("depth", [65, 3_000, 100_000])
def test_a_websocket_message_nested_too_deep_closes_the_connection_as_not_json(
    api: Api, depth: int
) -> None:
    from tests.graphql_schema.test_subscriptions import connect

    with connect(api, "exec_n") as live:
        nested = "[" * depth + "]" * depth
        query = "subscription { calibrationChanged { __typename } }"
        payload = '{"query": "' + query + '", "variables": {"x": ' + nested + "}}"
        live.ws.send_text('{"id": "1", "type": "subscribe", "payload": ' + payload + "}")
        with pytest.raises(WebSocketDisconnect) as closed:
            live.receive()
        assert closed.value.code == 4400, closed.value
