"""A subscription's query document, executed and encoded once per event for every subscriber
that sent the same document and variables (events carry no viewer-dependent fields: who may
receive one is decided before, per principal, in `graphql_schema.live.hub`)."""

from __future__ import annotations

import json
import logging
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    Executor,
    GraphQLResolveInfo,
    execute_subscription_event,
    print_ast,
)

log = logging.getLogger(__name__)

DocumentKey = tuple[str, str | None, str]  # (source, operation name, variables as JSON)


class SharedDocument:
    """The executor of one subscription document with its variables, built once."""

    def __init__(self, key: DocumentKey, executor: Executor) -> None:
        self.key = key
        self._executor = executor

    @staticmethod
    def key_of(info: GraphQLResolveInfo) -> DocumentKey:
        operation = info.operation
        source = operation.loc.source.body if operation.loc is not None else print_ast(operation)
        name = operation.name.value if operation.name is not None else None
        variables = json.dumps(_variables(info), sort_keys=True, default=str)
        return source, name, variables

    @classmethod
    def of(cls, info: GraphQLResolveInfo) -> SharedDocument:
        """From the resolve info of the subscription field (its operation, fragments and
        coerced variables, which are their own raw form for the scalars events take)."""
        key = cls.key_of(info)
        operation = info.operation
        document = DocumentNode(definitions=(operation, *info.fragments.values()))
        executor = Executor.build(
            info.schema,
            document,
            raw_variable_values=_variables(info),
            operation_name=key[1],
        )
        if not isinstance(executor, Executor):  # validated already at subscribe: a bug
            raise RuntimeError(f"cannot execute a subscription document again: {executor}")
        return cls(key, executor)

    def payload(self, event: Any) -> str | None:
        """The `next` payload (``{"data": ...}``) of ``event`` as JSON; None when execution
        fails, so that each subscriber takes Strawberry's own path (masked errors, logs)."""
        result = execute_subscription_event(self._executor.build_per_event_executor(event))
        if not isinstance(result, ExecutionResult) or result.errors:
            if isinstance(result, ExecutionResult):
                log.warning("shared execution of a live event failed: %s", result.errors)
            else:  # an awaitable: event types resolve synchronously; never shared otherwise
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            return None
        return json.dumps({"data": result.data}, separators=(",", ":"))


def _variables(info: GraphQLResolveInfo) -> dict[str, Any]:
    """The coerced variables (graphql-core types them as `VariableValues` but hands resolvers
    the plain dict of coerced values)."""
    values: Any = info.variable_values
    return dict(getattr(values, "coerced", values))
