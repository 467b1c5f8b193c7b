"""The `Mutation` root: every change a caller may make, assembled from each domain.

Each mutation takes one `input` and answers with a payload: the result, or `errors` (code, the
field at fault by its path inside `input`, message) when it was rejected and nothing changed.
"""

from __future__ import annotations

import strawberry

from graphql_schema.actions.mutations import ActionsMutation
from graphql_schema.admin.mutations import AdminMutation
from graphql_schema.alerts.mutations import AlertsMutation
from graphql_schema.calibration.mutations import CalibrationMutation
from graphql_schema.coaching.mutations import CoachingMutation
from graphql_schema.feedback.mutations import FeedbackMutation
from graphql_schema.outcomes.mutations import OutcomesMutation
from graphql_schema.partner_webhooks.mutations import PartnerWebhooksMutation
from graphql_schema.prompts.mutations import PromptsMutation
from graphql_schema.reports.mutations import ReportsMutation
from graphql_schema.reviews.mutations import ReviewsMutation
from graphql_schema.roi.mutations import RoiMutation
from graphql_schema.signals.mutations import SignalsMutation


@strawberry.type(
    description="Everything a caller may change. Each mutation takes one `input` and returns a "
    "payload whose `errors` list what to fix when it was rejected (then nothing changed)."
)
class Mutation(
    ActionsMutation,
    SignalsMutation,
    OutcomesMutation,
    FeedbackMutation,
    PromptsMutation,
    ReviewsMutation,
    CalibrationMutation,
    CoachingMutation,
    AlertsMutation,
    PartnerWebhooksMutation,
    ReportsMutation,
    RoiMutation,
    AdminMutation,
):
    pass
