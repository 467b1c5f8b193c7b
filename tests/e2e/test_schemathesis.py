"""schemathesis against the running GraphQL endpoint (schema from its own introspection),
authenticated as each role, with a fixed seed and a bounded number of examples per operation:
no 5xx, and no error that is masked ("Unexpected error.": a bug) or unmasked (an execution error
without one of the documented codes: a leaked exception).

Arguments that take ids draw, half of the time, from the seeded world's real global ids (of
every type and both organisations) and unknown ones, and action types, levels, signal kinds and
message and thread ids from the real ones, so that resolvers and services are reached, not only
the "malformed input" paths. Queries and mutations both run, on a world of their own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import graphql
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.graphql import nodes

from tests.e2e.conftest import REPS, Deployment, gid

# One worker runs this module's tests: its servers (per database) start once, not once per
# worker that picks up one of its tests.
pytestmark = pytest.mark.xdist_group("e2e-schemathesis")

SEED = 20261126
# (seed, examples per operation, role and database): the first seed's cases, and a few of a
# second seed's. Measured: the second seed's 2 examples add about 30 s to this file (160 s to
# 190 s on two busy cores), about 15 s to the suite on its two workers.
RUNS = ((SEED, 8), (20261207, 2))
# One of each kind of caller (a second rep would only repeat the first).
ROLES = ("rep_a1", "manager_a", "exec_n", "exec_s", "agent_a1", "partner_n")
# Codes a client can act on (docs/api.md); an execution error without one leaked an exception.
CODES = {
    "unauthenticated",
    "forbidden",
    "not_found",
    "invalid",
    "required",
    "conflict",
    "cost_exceeded",
    "rate_limited",
}
MASKED = "Unexpected error."
# Generated documents are large and every example is a request to a real server: both are meant.
IRRELEVANT = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.large_base_example,
]
ID_ARGUMENTS = (
    "id",
    "agentId",
    "teamId",
    "actionId",
    "outcomeId",
    "filter.agentId",
    "input.agentId",
    "input.actionId",
    "input.outcomeId",
    "input.signals.[*].actionId",
)
ACTION_TYPES = ("email", "follow_up", "meeting", "escalation", "stage_progression", "call")
LEVELS = ("positive", "negative", "neutral", "none", "minimal", "some", "major", "0", "1", "4")
SIGNAL_KINDS = (
    "email.replied",
    "email.bounced",
    "email.opened",
    "deal.stage_changed",
    "deal.won",
    "meeting.attended",
    "meeting.feedback",
    "opportunity.created",
)
OUTCOME_TYPES = (
    "email_delivery",
    "email_reply",
    "meeting_attendance",
    "meeting_feedback",
    "escalation_quality",
    "deal_progression",
    "task_success",
)


def json_literals() -> st.SearchStrategy[graphql.ValueNode]:
    """Any JSON value as a GraphQL literal, for the `JSON` scalar (signal payloads, details)."""
    names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True)
    leaves = st.one_of(
        st.just(nodes.Null),
        st.booleans().map(nodes.Boolean),
        st.integers().map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
        st.text(max_size=20).map(nodes.String),
    )

    def containers(children: st.SearchStrategy) -> st.SearchStrategy:
        fields = st.dictionaries(names, children, max_size=4).map(
            lambda d: nodes.Object(
                [
                    graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v)
                    for k, v in d.items()
                ]
            )
        )
        return st.one_of(st.lists(children, max_size=4).map(nodes.List), fields)

    return st.recursive(leaves, containers, max_leaves=8)


schemathesis.graphql.scalar("JSON", json_literals())


def known_ids(deployment: Deployment) -> list[str]:
    ids = deployment.ids
    rows: dict[str, list[int]] = {
        "Organization": list(ids.orgs.values()),
        "Team": list(ids.teams.values()),
        "User": list(ids.users.values()),
        "Agent": list(ids.agents.values()),
        "Action": [a for rep in REPS for a in ids.actions[rep]],
        "Outcome": [*ids.labelling.values(), *ids.resolved.values()],
        "Feedback": list(ids.feedback.values()),
    }
    return [gid(t, row) for t, row_ids in rows.items() for row in [*row_ids, 987654]]


def config_for(deployment: Deployment) -> SchemathesisConfig:
    bind = {f"*.*.{path}": {"dictionary": "ids", "probability": 0.5} for path in ID_ARGUMENTS}
    for path in ("actionType", "input.actionType", "filter.actionType"):
        bind[f"*.*.{path}"] = {"dictionary": "action_types", "probability": 0.5}
    bind["*.*.input.outcomeType"] = {"dictionary": "outcome_types", "probability": 0.5}
    bind["*.*.input.level"] = {"dictionary": "levels", "probability": 0.5}
    bind["*.*.input.signals.[*].kind"] = {"dictionary": "signal_kinds", "probability": 0.5}
    for path in ("input.messageExternalId", "input.signals.[*].messageExternalId"):
        bind[f"*.*.{path}"] = {"dictionary": "messages", "probability": 0.5}
    for path in ("input.threadExternalId", "input.signals.[*].threadExternalId"):
        bind[f"*.*.{path}"] = {"dictionary": "threads", "probability": 0.5}
    refs = [(rep, kind) for rep in REPS for kind in ("label", "reply")]  # as seeded
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {"database": "none", "mode": "all"},
            "dictionaries": {
                "ids": {"values": known_ids(deployment)},
                "action_types": {"values": list(ACTION_TYPES)},
                "outcome_types": {"values": list(OUTCOME_TYPES)},
                "levels": {"values": list(LEVELS)},
                "signal_kinds": {"values": list(SIGNAL_KINDS)},
                "messages": {"values": [f"<{rep}-{kind}@mail>" for rep, kind in refs]},
                "threads": {"values": [f"thread-{rep}-{kind}" for rep, kind in refs]},
            },
            "parameters": bind,
        }
    )


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:  # schemathesis calls through `requests`
        yield session


def problems(response: Any) -> list[str]:
    if response.status_code >= 500:
        return [f"HTTP {response.status_code}"]
    try:
        body = response.json()
    except ValueError:
        return ["the response is not JSON"]
    found = []
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if error.get("message") == MASKED:
            found.append(f"masked internal error {error}")
        elif "path" in error and code not in CODES:
            found.append(f"unmasked execution error {error}")
    return found


# The documents each operation is sent, generated once per worker and sent as every role on
# every database: the same seeds, schema and dictionaries gave every role and both databases the
# very same documents, and generating them cost about as much as the server's answers (9 of one
# role's 21 s). By what they are generated from: (the introspected schema, the operation, seed,
# examples, the dictionaries).
GENERATED: dict[tuple[str, str, int, int, str], list[str]] = {}


def documents(operation: Any, schema_key: str, dictionaries_key: str) -> list[str]:
    """Positive and negative cases of one operation, from each of `RUNS`' fixed seeds."""
    found = []
    for run_seed, examples in RUNS:
        key = (schema_key, operation.label, run_seed, examples, dictionaries_key)
        if key not in GENERATED:
            GENERATED[key] = generate(operation, run_seed, examples)
        found.extend(GENERATED[key])
    return found


def generate(operation: Any, run_seed: int, examples: int) -> list[str]:
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    drawn: list[str] = []

    @seed(run_seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=IRRELEVANT,
    )
    @given(case=cases)
    def draw(case: Any) -> None:
        assert isinstance(case.body, str), case.body  # a GraphQL document is all that varies
        drawn.append(case.body)

    draw()
    return drawn


def fuzz(operation: Any, role: str, token: str, http: requests.Session, bodies: list[str]) -> None:
    """Send each document as ``role``; every answer is checked (all problems are reported)."""
    found = []
    for body in bodies:
        response = operation.Case(body=body).call(
            session=http, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        problems_of = problems(response)
        if problems_of:
            found.append(
                f"{operation.label} as {role}: {problems_of}\nquery: {body}\n"
                f"response {response.status_code}: {response.text[:2000]}"
            )
    assert not found, "\n\n".join(found)


def contract_operations() -> set[str]:
    from graphql_schema.schema import schema

    roots = (("Query", schema._schema.query_type), ("Mutation", schema._schema.mutation_type))
    return {f"{name}.{field}" for name, root in roots for field in root.fields}


@pytest.mark.parametrize("role", ROLES)
def test_no_server_error_and_nothing_unmasked(
    deployment: Deployment, role: str, http: requests.Session
) -> None:
    api = schemathesis.graphql.from_url(  # introspected as the role (development: on)
        f"{deployment.base_url}/graphql",
        config=config_for(deployment),
        headers={"Authorization": f"Bearer {deployment.tokens[role]}"},
        timeout=30,
    )
    operations = [result.ok() for result in api.get_all_operations()]
    schema_key = hashlib.sha256(json.dumps(api.raw_schema, sort_keys=True).encode()).hexdigest()
    dictionaries_key = json.dumps(known_ids(deployment))  # the rest of `config_for` is fixed
    # Every query and mutation of the exported contract is exercised (subscriptions are not HTTP).
    expected = contract_operations()
    assert {op.label for op in operations} == expected
    failures = []
    for operation in operations:
        try:
            bodies = documents(operation, schema_key, dictionaries_key)
            fuzz(operation, role, deployment.tokens[role], http, bodies)
        except AssertionError as failure:
            failures.append(str(failure))
    assert not failures, "\n\n".join(failures)
