"""The endpoint's JSON: any JSON value is encoded as itself, as text (WebSocket frames are
text), big integers included; a body that is not JSON is refused as before."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cross_web import HTTPException
from hypothesis import example, given, settings
from hypothesis import strategies as st

from backend.settings import load_settings
from graphql_schema.schema import build_schema
from graphql_schema.view import GraphQLView

VIEW = GraphQLView(
    build_schema(load_settings(secret_key="x" * 32, database_url="sqlite+aiosqlite://")),
    load_settings(secret_key="x" * 32, database_url="sqlite+aiosqlite://"),
)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63)  # beyond 64 bits: the standard encoder takes over
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(values)
@example(2**70 + 1)
@example({"evidence": [1.5, -(2**65), "é"]})
def test_any_json_value_is_encoded_as_itself_in_text(value: Any) -> None:
    encoded = VIEW.encode_json({"data": value})
    assert isinstance(encoded, str)
    assert json.loads(encoded) == {"data": value}


def test_a_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(HTTPException) as refused:
        VIEW.parse_json(b"{not json")
    assert refused.value.status_code == 400
