"""The GraphQL schema: root types assembled from each domain, and the extensions that guard it.

`schema` is the public contract (exported to `schema.graphql`); `build_schema(settings)` adds the
per-deployment guards: limits, cost budgets, caches, introspection and error masking.
"""

from __future__ import annotations

from typing import Any, TypedDict

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig

from backend.errors import DomainError
from backend.observability.graphql import metered
from backend.observability.tracing import graphql_extensions as tracing_extensions
from backend.settings import Settings
from graphql_schema.actions.queries import ActionsQuery
from graphql_schema.admin.queries import AdminQuery
from graphql_schema.agents.queries import AgentsQuery
from graphql_schema.alerts.queries import AlertsQuery
from graphql_schema.analytics.queries import AnalyticsQuery
from graphql_schema.arguments import ArgumentChecks
from graphql_schema.buckets import Buckets
from graphql_schema.calibration.queries import CalibrationQuery
from graphql_schema.coaching.queries import CoachingQuery
from graphql_schema.errors import DomainErrorsAndMasking, refused_before_execution
from graphql_schema.execution import PlainFieldsExecution
from graphql_schema.feedback.queries import FeedbackQuery
from graphql_schema.feedback.summary import FeedbackSummaryQuery
from graphql_schema.health.queries import HealthQuery
from graphql_schema.limits import CostLimits
from graphql_schema.live.subscriptions import Subscription
from graphql_schema.mutation import Mutation
from graphql_schema.outcomes.queries import OutcomesQuery
from graphql_schema.partner_webhooks.queries import PartnerWebhooksQuery
from graphql_schema.prompts.queries import PromptsQuery
from graphql_schema.reports.queries import ReportsQuery
from graphql_schema.reviews.queries import ReviewsQuery
from graphql_schema.roi.queries import RoiQuery
from graphql_schema.strategy.queries import StrategyQuery
from graphql_schema.viewer.queries import ViewerQuery


@strawberry.type(description="Everything a viewer may read.")
class Query(
    ViewerQuery,
    AgentsQuery,
    ActionsQuery,
    OutcomesQuery,
    FeedbackQuery,
    FeedbackSummaryQuery,
    PromptsQuery,
    ReviewsQuery,
    CalibrationQuery,
    AnalyticsQuery,
    CoachingQuery,
    AlertsQuery,
    PartnerWebhooksQuery,
    ReportsQuery,
    RoiQuery,
    StrategyQuery,
    HealthQuery,
    AdminQuery,
):
    pass


class Roots(TypedDict):
    """The root types, as keyword arguments of ``Schema``."""

    query: type
    mutation: type
    subscription: type


ROOTS = Roots(query=Query, mutation=Mutation, subscription=Subscription)
CONFIG = StrawberryConfig(auto_camel_case=True)


class Schema(strawberry.Schema):
    """Strawberry's schema, logging only unexpected errors (domain errors and requests refused
    before they ran are answers; these get their code here too, as a syntax error found by
    the parser cache never reaches the error-masking extension)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        unexpected = [
            e
            for e in errors
            if not isinstance(e.original_error, DomainError) and not refused_before_execution(e)
        ]
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = Schema(**ROOTS, config=CONFIG)


def sdl() -> str:
    """The public contract as SDL (what `python -m backend export-schema` writes)."""
    return schema.as_str() + "\n"


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema as served: same contract, with this deployment's guards."""
    from graphql.validation import NoSchemaIntrospectionCustomRule

    budgets = Buckets("cost", settings.graphql_cost_budget, settings.graphql_cost_refill)
    per_minute = settings.graphql_requests_per_minute
    requests = Buckets("requests", per_minute, per_minute / 60)
    # Validation rules are built once: ValidationCache keys on the rule classes, so rules built
    # per request (as QueryDepthLimiter/MaxAliasesLimiter factories would) never hit the cache.
    rules: list[Any] = [
        depth_rule(settings.graphql_max_depth, None),
        alias_rule(settings.graphql_max_aliases),
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    # Factories, not instances: Strawberry builds fresh extensions for each operation. The
    # operation metrics read the cost extension's report and see errors once masked.
    cost_limits, operation_metrics = metered(lambda: CostLimits(budgets=budgets, requests=requests))
    extensions: list[Any] = [
        *tracing_extensions(),  # OpenTelemetry, first so its span holds the whole operation
        lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        ArgumentChecks,
        cost_limits,
        operation_metrics,
        lambda: DomainErrorsAndMasking(suggestions=settings.introspection_enabled),
    ]
    return Schema(
        **ROOTS,
        config=CONFIG,
        extensions=extensions,
        execution_context_class=PlainFieldsExecution,
    )
