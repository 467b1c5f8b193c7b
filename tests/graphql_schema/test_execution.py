"""The executor that reads plain fields directly answers exactly as graphql-core's own: same data,
same errors (messages, paths, nulls propagated), with or without middleware, on any data."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
from typing import Any, NewType

import pytest
import strawberry
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry import relay
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from backend.settings import load_settings
from graphql_schema.execution import (
    LEAF,
    NODE_ID,
    PREFETCHED,
    PREFETCHED_KIND,
    VALUE,
    PlainFieldsExecution,
    plain_field,
)
from graphql_schema.schema import build_schema


@strawberry.enum
class Kind(enum.Enum):
    EMAIL = "email"
    MEETING = "meeting"


# A scalar whose serialisation can give null (graphql-core then reports the field).
Code = NewType("Code", str)
CONFIG = StrawberryConfig(
    scalar_map={
        Code: strawberry.scalar(
            name="Code",
            serialize=lambda value: None if value == "none" else value,
            parse_value=lambda value: value,
        )
    }
)


@strawberry.type
class Detail:
    size: int
    label: str | None


@strawberry.type
class Thing(relay.Node):
    id: relay.NodeID[int]
    name: str
    note: str | None
    kind: Kind
    when: dt.datetime
    count: int
    ratio: float | None
    tags: list[str]
    detail: Detail | None
    code: Code

    known_details: strawberry.Private[list[Any] | None] = None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field(metadata={PREFETCHED: "known_details"})
    def details(self) -> list[Detail]:
        RESOLVED.append(self.id)
        return (
            self.known_details
            if self.known_details is not None
            else [Detail(size=0, label="loaded")]
        )

    @strawberry.field
    async def later(self) -> int:
        await asyncio.sleep(0)
        return self.count

    @classmethod
    def resolve_nodes(cls, *, info: Any, node_ids: Any, required: bool = False) -> list[Any]:
        return []


@strawberry.type
class Coded(relay.Node):
    """A node whose id Strawberry does not resolve by default: always the general way."""

    code: relay.NodeID[str]

    @classmethod
    def resolve_id(cls, root: Any, *, info: Any) -> str:
        return f"c-{root.code}"

    @classmethod
    def resolve_nodes(cls, *, info: Any, node_ids: Any, required: bool = False) -> list[Any]:
        return []


THINGS: list[Any] = []
RESOLVED: list[int] = []  # the things whose `details` resolver ran


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing]:
        return THINGS

    @strawberry.field
    def strict_things(self) -> list[Thing]:
        return THINGS

    @strawberry.field
    def coded(self) -> Coded:
        return Coded(code="x7")


class CountsFields(SchemaExtension):
    """Middleware: sees every field it is given."""

    seen = 0

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        CountsFields.seen += 1
        return _next(root, info, *args, **kwargs)


class CountsInfos(PlainFieldsExecution):
    """The fast executor, counting the fields it resolves the general way."""

    built = 0

    def build_resolve_info(self, *args: Any, **kwargs: Any) -> Any:
        CountsInfos.built += 1
        return super().build_resolve_info(*args, **kwargs)


def schemas(*extensions: Any) -> tuple[strawberry.Schema, strawberry.Schema]:
    general = strawberry.Schema(
        query=Query,
        config=CONFIG,
        extensions=list(extensions),
        execution_context_class=StrawberryGraphQLCoreExecutionContext,
    )
    fast = strawberry.Schema(
        query=Query,
        config=CONFIG,
        extensions=list(extensions),
        execution_context_class=CountsInfos,
    )
    return general, fast


GENERAL, FAST = schemas()
QUERY = """query($withNote: Boolean!) {
  things {
    id name alias: name note @include(if: $withNote) kind when count ratio tags shout later
    __typename code
    detail { size label }
    details { size label }
    ... on Thing { count name }
  }
  coded { id }
}"""


def run(schema: strawberry.Schema, query: str = QUERY, **variables: Any) -> Any:
    result = asyncio.run(schema.execute(query, variable_values=variables or {"withNote": True}))
    errors = sorted(((e.message, tuple(e.path or ())) for e in result.errors or []), key=repr)
    return result.data, errors


def thing(number: int, **changes: Any) -> Thing:
    base: dict[str, Any] = {
        "id": number,
        "name": f"thing {number}",
        "note": None if number % 2 else "a note",
        "kind": Kind.EMAIL if number % 3 else Kind.MEETING,
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC) + dt.timedelta(hours=number),
        "count": number * 7,
        "ratio": number / 3 if number % 4 else None,
        "tags": ["a", "b"][: number % 3],
        "detail": Detail(size=number, label=None) if number % 2 else None,
        "code": f"c{number}",
        "known_details": [Detail(size=number, label="known")] if number % 2 == 0 else None,
    }
    return Thing(**(base | changes))


def test_same_answer_as_graphql_core_and_only_resolvers_go_the_general_way() -> None:
    THINGS[:] = [thing(n) for n in range(1, 6)]
    CountsInfos.built = 0
    RESOLVED.clear()
    fast = run(FAST)
    built = CountsInfos.built
    assert RESOLVED == [1, 3, 5]  # only where the details were not read ahead
    RESOLVED.clear()
    assert fast == run(GENERAL)
    assert RESOLVED == [1, 2, 3, 4, 5]
    assert fast[1] == []
    assert fast[0]["things"][1]["details"] == [{"size": 2, "label": "known"}]
    # things, coded, coded.id (not Strawberry's default id), and per thing: tags, detail and
    # details (completed by graphql-core), shout and later (resolvers); leaves build none.
    assert built == 3 + 5 * len(THINGS)
    assert fast[0]["things"][0]["id"] == str(relay.GlobalID("Thing", "1"))


def test_skipped_fields_stay_skipped() -> None:
    THINGS[:] = [thing(2)]
    data, _ = run(FAST, withNote=False)
    assert "note" not in data["things"][0]
    assert run(FAST, withNote=False) == run(GENERAL, withNote=False)


def test_a_null_where_none_is_allowed_is_the_same_error() -> None:
    THINGS[:] = [thing(1), thing(2, name=None), thing(3, kind=None)]
    fast = run(FAST)
    assert fast == run(GENERAL)
    messages = [m for m, _ in fast[1]]
    assert any("Cannot return null for non-nullable field Thing.name" in m for m in messages)
    assert fast[0] is None  # the list is non-null of non-null: the nulls reach the root


@pytest.mark.parametrize(
    "changes",
    [
        {"count": 2**40},
        {"ratio": "many"},
        {"kind": "fax"},
        {"code": "none"},
        {"name": 3},
        {"known_details": [None]},
        {"known_details": [Detail(size=None, label="a")]},
        {"detail": "x"},
        {"tags": [1, None]},
    ],
    ids=repr,
)
def test_a_value_the_scalar_refuses_is_the_same_error(changes: dict[str, Any]) -> None:
    # One bad value per run: a non-null list stops at its first error.
    THINGS[:] = [thing(1), thing(2, **changes)]
    fast = run(FAST)
    assert fast == run(GENERAL)
    assert len(fast[1]) == 1


def test_middleware_sees_every_field() -> None:
    THINGS[:] = [thing(n) for n in range(1, 4)]
    general, fast = schemas(CountsFields)
    CountsFields.seen = 0
    expected = run(general)
    seen_general = CountsFields.seen
    CountsFields.seen = 0
    assert run(fast) == expected
    assert CountsFields.seen == seen_general > 3 * 10


def test_which_fields_are_plain() -> None:
    fields = FAST._schema.type_map["Thing"].fields  # type: ignore[attr-defined]
    kinds = {name: plain.kind for name, f in fields.items() if (plain := plain_field(f))}
    assert kinds == {
        **dict.fromkeys(["name", "note", "kind", "when", "count", "ratio", "code"], LEAF),
        "id": NODE_ID,
        "tags": VALUE,
        "detail": VALUE,
        "details": PREFETCHED_KIND,
    }
    served = build_schema(load_settings(secret_key="x" * 32, database_url="sqlite+aiosqlite://"))
    action = served._schema.type_map["Action"].fields  # type: ignore[attr-defined]
    assert {"id", "actionType", "confidence", "occurredAt", "outcomes"} <= {
        name for name, f in action.items() if plain_field(f) is not None
    }
    assert plain_field(action["agent"]) is None


names = st.one_of(st.none(), st.text(max_size=5))
numbers = st.one_of(st.none(), st.integers(min_value=-(2**40), max_value=2**40))
ratios = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=2))
kinds = st.one_of(st.none(), st.sampled_from([Kind.EMAIL, Kind.MEETING, "email", 3]))
details = st.sampled_from(
    [None, [], [Detail(size=1, label=None)], [None], "x", [Detail(size=None, label="a")]]
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            names,
            names,
            numbers,
            ratios,
            kinds,
            st.sampled_from(["a", "none"]),
            details,
            details,
            st.booleans(),
        ),
        max_size=4,
    )
)
def test_any_data_gets_the_same_answer(rows: list[Any]) -> None:
    THINGS[:] = [
        thing(
            i + 1,
            name=name,
            note=note,
            count=count,
            ratio=ratio,
            kind=kind,
            code=code,
            detail=detail[0] if isinstance(detail, list) and detail else None,
            known_details=known,
        )
        if keep
        else None
        for i, (name, note, count, ratio, kind, code, detail, known, keep) in enumerate(rows)
    ]
    assert run(FAST) == run(GENERAL)
