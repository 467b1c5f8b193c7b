"""The public contract: the exported SDL is current, and everything in it is described."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from graphql_schema.schema import schema, sdl

SDL_FILE = Path(__file__).resolve().parents[2] / "graphql_schema" / "schema.graphql"


def test_exported_sdl_is_current() -> None:
    assert SDL_FILE.read_text() == sdl(), (
        "graphql_schema/schema.graphql is stale: run `python -m backend export-schema`"
    )


def test_every_type_and_field_is_described() -> None:
    missing = []
    for name, named in schema._schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not named.description:
            missing.append(name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, definition in named.fields.items():
                if not definition.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(definition, "args", {}).items():
                    if not arg.description and field_name not in ("node",):
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(named, GraphQLEnumType):
            continue
    assert not missing, f"described nowhere: {', '.join(sorted(missing))}"


def test_the_examples_in_the_api_docs_are_valid() -> None:
    import re

    from graphql import parse, validate

    docs = (SDL_FILE.parents[1] / "docs" / "api.md").read_text()
    examples = re.findall(r"```graphql\n(.*?)```", docs, re.S)
    assert len(examples) >= 6
    for example in examples:
        assert validate(schema._schema, parse(example)) == [], example
