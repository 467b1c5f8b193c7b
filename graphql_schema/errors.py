"""Errors as clients see them.

Expected failures of mutations come back in the payload as `UserError`s (code, field, message).
Expected failures of queries (not found, forbidden, unauthenticated, bad arguments) are GraphQL
errors whose `extensions` carry the same `code` and `field`. Anything else is a bug: the client
gets "Unexpected error." with a `requestId`, and the server logs the traceback under that id.
"""

from __future__ import annotations

import logging
import re
from enum import Enum

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from backend.errors import DomainError, InvalidInput
from backend.outages import UNAVAILABLE, is_outage

log = logging.getLogger("graphql_schema")
# graphql-core's hints in validation and coercion errors: "Did you mean 'viewer'?"
SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


@strawberry.enum(description="Machine-readable reason of a user error.")
class UserErrorCode(Enum):
    INVALID = "invalid"
    REQUIRED = "required"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    UNAUTHENTICATED = "unauthenticated"


@strawberry.type(description="Something the client must fix; nothing was changed.")
class UserError:
    code: UserErrorCode = strawberry.field(description="What kind of problem it is.")
    field: str | None = strawberry.field(
        description="The input field at fault, as a dotted path (e.g. `signals[2].kind`)."
    )
    message: str = strawberry.field(description="A sentence for a person.")


def user_errors(error: DomainError) -> list[UserError]:
    """The user errors of a rejected mutation (every problem of an invalid input)."""
    problems = error.errors if isinstance(error, InvalidInput) else [error]
    return [
        UserError(code=UserErrorCode(p.code.value), field=p.field, message=p.message)
        for p in problems
    ]


def refused_before_execution(error: GraphQLError) -> bool:
    """Whether ``error`` refused the request before anything ran: the document's syntax or
    validation, or a variable's value that its type refused. The client's to fix, so it
    carries the code `invalid` (set here) and is never masked."""
    original = error.original_error
    if error.path is not None or not (
        original is None
        or isinstance(original, GraphQLError)
        or error.message.startswith("Variable '$")
    ):
        return False
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": "invalid"}
    return True


class DomainErrorsAndMasking(MaskErrors):
    """Expose domain errors with their code; mask everything else with a request id. Without
    ``suggestions`` (deployments that hide the schema: introspection off), errors name no
    field, type or value the client did not write ("Did you mean 'viewer'?" is dropped)."""

    def __init__(self, *, suggestions: bool = True) -> None:
        super().__init__(should_mask_error=self._is_bug, error_message="Unexpected error.")
        self.suggestions = suggestions

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        if not self.suggestions:
            for error in errors:
                error.message = SUGGESTION.sub("", error.message)
        return super()._process_errors(errors)

    @staticmethod
    def _is_bug(error: GraphQLError) -> bool:
        original = error.original_error
        if original is not None and is_outage(original):
            # Not a bug: the database or broker is down. The view answers 503 (backend.outages).
            error.extensions = {**(error.extensions or {}), "code": UNAVAILABLE}
            error.message = "the service is briefly unavailable"
            return False
        if isinstance(original, DomainError):
            error.extensions = {
                **(error.extensions or {}),
                "code": original.code.value,
                **({"field": original.field} if original.field else {}),
            }
            return False
        if refused_before_execution(error):
            return False
        return original is not None and not isinstance(original, GraphQLError)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        context = self.execution_context.context
        request_id = getattr(context, "request_id", "unknown")
        log.error("request %s failed at %s", request_id, error.path, exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "internal", "requestId": request_id}
        return masked
