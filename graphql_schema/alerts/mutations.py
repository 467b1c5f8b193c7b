"""GraphQL: `upsertAlertRule`, `deleteAlertRule` (managers for their teams, executives and
admins), and `acknowledgeAlert`, `resolveAlert`, `snoozeAlert` (whoever sees the alert)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.alerts import rules, service
from backend.alerts.models import Alert, AlertRule
from backend.alerts.service import MAX_SNOOZE
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from graphql_schema.alerts.types import (
    AlertChannel,
    AlertRuleType,
    AlertScope,
    AlertType,
    Direction,
    RuleKind,
    Severity,
)
from graphql_schema.errors import UserError
from graphql_schema.inputs import attempt, decode_id, with_error_paths

ERRORS_DESCRIPTION = "What to fix; empty when it was done (a rejected request changed nothing)."


@strawberry.input(
    description=with_error_paths(
        "A rule to create, or (with `id`) the whole new definition of an existing one. "
        "Creating the same rule again (same name and definition) returns the first.",
        "threshold",
    )
)
class UpsertAlertRuleInput:
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The rule to change (AlertRule id); omit to create one."
    )
    name: str = strawberry.field(description="1 to 200 characters, unique among live rules.")
    kind: RuleKind = strawberry.field(description="How it judges.")
    metric: str = strawberry.field(
        description="What it watches: threshold `reply_rate`, `meeting_attendance_rate`, "
        "`escalation_rate`, `escalation_appropriateness`, `calibration_error`, "
        "`cost_per_interaction`, `feedback_score`, `label_queue_age` (hours), "
        "`unanswered_prompts`; anomaly and drift the rates; calibration `calibration_verdict`; "
        "policy `policy_change`."
    )
    action_type: str | None = strawberry.field(
        default=None, description="Only this action type (lower_snake_case); null for all."
    )
    scope: AlertScope = strawberry.field(
        default=AlertScope.ORGANIZATION,
        description="Whom it watches: ORGANIZATION (executives and admins), TEAM (with "
        "`teamId`) or AGENT (with `agentId`).",
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="The team of a TEAM rule (its id)."
    )
    agent_id: strawberry.ID | None = strawberry.field(
        default=None, description="The agent of an AGENT rule (its id)."
    )
    direction: Direction | None = strawberry.field(
        default=None,
        description="Threshold: required. Anomaly and drift: ABOVE spikes only, BELOW drops "
        "only, null both.",
    )
    threshold: float | None = strawberry.field(
        default=None,
        description="Threshold rules: the bound (a share in 0..1 for rates); calibration rules: "
        "an optional bound on the debiased error.",
    )
    clear_threshold: float | None = strawberry.field(
        default=None,
        description="Threshold rules: where an open alert clears, on the good side of the "
        "threshold (default 10 % of it back).",
    )
    window_days: int = strawberry.field(
        default=7, description="Trailing days judged: 1..365 (anomaly and drift: 1..60)."
    )
    hold_hours: int = strawberry.field(
        default=24,
        description="Hours the condition must stay cleared before its alert resolves: 0..720.",
    )
    severity: Severity = strawberry.field(
        default=Severity.WARNING, description="The severity of its alerts."
    )
    channels: list[AlertChannel] = strawberry.field(
        default_factory=lambda: [AlertChannel.DASHBOARD], description="Where its alerts go."
    )
    slack_channel: str | None = strawberry.field(
        default=None,
        description="With the SLACK channel: the Slack channel id to post to (e.g. C0123ABCD); "
        "null: the workspace's default channel, or without one a direct message to each "
        "person who sees the alert.",
    )
    remind_after_minutes: int | None = strawberry.field(
        default=None,
        description="Announce a firing alert again when nobody acknowledged it after this many "
        "minutes (5..10080), then each period, at most three times; null: critical rules "
        "every hour, others never.",
    )
    enabled: bool = strawberry.field(
        default=True, description="Whether it is evaluated (false: disabled, audited)."
    )


@strawberry.type(description="The rule after `upsertAlertRule`, or what to fix.")
class UpsertAlertRulePayload:
    rule: AlertRuleType | None = strawberry.field(
        default=None, description="The rule as it now stands; null when rejected."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.input(description=with_error_paths("The rule to delete.", "id"))
class DeleteAlertRuleInput:
    id: strawberry.ID = strawberry.field(description="The rule (AlertRule id).")


@strawberry.type(description="The deleted rule, or what to fix.")
class DeleteAlertRulePayload:
    rule: AlertRuleType | None = strawberry.field(
        default=None, description="The rule, with `deletedAt` set; null when rejected."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.input(description=with_error_paths("The alert to acknowledge.", "id"))
class AcknowledgeAlertInput:
    id: strawberry.ID = strawberry.field(description="The alert (Alert id).")


@strawberry.input(description=with_error_paths("The alert to resolve.", "id"))
class ResolveAlertInput:
    id: strawberry.ID = strawberry.field(description="The alert (Alert id).")


@strawberry.input(description=with_error_paths("The alert to snooze, and until when.", "until"))
class SnoozeAlertInput:
    id: strawberry.ID = strawberry.field(description="The alert (Alert id).")
    until: dt.datetime = strawberry.field(
        description=f"Quiet until then: with a UTC offset, in the future, at most "
        f"{MAX_SNOOZE.days} days ahead."
    )


@strawberry.type(description="The alert after the change, or what to fix.")
class AlertPayload:
    alert: AlertType | None = strawberry.field(
        default=None, description="The alert as it now stands; null when rejected."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


def _rule_input(data: UpsertAlertRuleInput) -> rules.RuleInput:
    return rules.RuleInput(
        rule_id=decode_id(data.id, "AlertRule", "id") if data.id is not None else None,
        name=data.name,
        kind=RuleKind(data.kind).value,
        metric=data.metric,
        scope=AlertScope(data.scope).value,
        team_id=decode_id(data.team_id, "Team", "teamId") if data.team_id is not None else None,
        agent_id=(
            decode_id(data.agent_id, "Agent", "agentId") if data.agent_id is not None else None
        ),
        action_type=data.action_type,
        direction=Direction(data.direction).value if data.direction is not None else None,
        threshold=data.threshold,
        clear_threshold=data.clear_threshold,
        window_days=data.window_days,
        hold_hours=data.hold_hours,
        severity=Severity(data.severity).value,
        channels=[AlertChannel(c).value for c in data.channels],
        slack_channel=data.slack_channel,
        remind_after_minutes=data.remind_after_minutes,
        enabled=data.enabled,
    )


async def _upsert(info: Info, viewer: Viewer, data: UpsertAlertRuleInput) -> AlertRule:
    given = _rule_input(data)
    async with transaction(info.context.state.sessions) as session:
        return await rules.upsert_rule(session, viewer, given, now=info.context.now())


async def _delete(info: Info, viewer: Viewer, data: DeleteAlertRuleInput) -> AlertRule:
    rule_id = decode_id(data.id, "AlertRule", "id")
    async with transaction(info.context.state.sessions) as session:
        return await rules.delete_rule(session, viewer, rule_id, now=info.context.now())


async def _acknowledge(info: Info, viewer: Viewer, data: AcknowledgeAlertInput) -> Alert:
    alert_id = decode_id(data.id, "Alert", "id")
    async with transaction(info.context.state.sessions) as session:
        return await service.acknowledge_alert(session, viewer, alert_id, now=info.context.now())


async def _resolve(info: Info, viewer: Viewer, data: ResolveAlertInput) -> Alert:
    alert_id = decode_id(data.id, "Alert", "id")
    async with transaction(info.context.state.sessions) as session:
        return await service.resolve_alert(session, viewer, alert_id, now=info.context.now())


async def _snooze(info: Info, viewer: Viewer, data: SnoozeAlertInput) -> Alert:
    alert_id = decode_id(data.id, "Alert", "id")
    async with transaction(info.context.state.sessions) as session:
        return await service.snooze_alert(
            session, viewer, alert_id, until=data.until, now=info.context.now()
        )


def _alert_payload(alert: Alert | None, errors: list[UserError]) -> AlertPayload:
    if alert is None:
        return AlertPayload(errors=errors)
    return AlertPayload(alert=AlertType.of(alert))


@strawberry.type
class AlertsMutation:
    @strawberry.mutation(
        description="Create an alert rule, or change one (`id`: the whole new definition). "
        "Managers for their teams and their teams' agents; executives and admins for the "
        "organisation too; not reps or API keys. Every problem is named by its field; a team or "
        "agent out of sight is `not_found`. Each change is audited (`AlertRule.history`); the "
        "same rule again changes nothing."
    )
    async def upsert_alert_rule(
        self,
        info: Info,
        input: Annotated[UpsertAlertRuleInput, strawberry.argument(description="The rule.")],
    ) -> UpsertAlertRulePayload:
        rule, errors = await attempt(info, input, lambda viewer: _upsert(info, viewer, input))
        if rule is None:
            return UpsertAlertRulePayload(errors=errors)
        return UpsertAlertRulePayload(rule=AlertRuleType.of(rule))

    @strawberry.mutation(
        description="Delete an alert rule: kept (with `deletedAt`) and audited, never evaluated "
        "again; its open alerts are resolved by you. Deleting it again changes nothing. Who may "
        "change the rule."
    )
    async def delete_alert_rule(
        self,
        info: Info,
        input: Annotated[DeleteAlertRuleInput, strawberry.argument(description="Which rule.")],
    ) -> DeleteAlertRulePayload:
        rule, errors = await attempt(info, input, lambda viewer: _delete(info, viewer, input))
        if rule is None:
            return DeleteAlertRulePayload(errors=errors)
        return DeleteAlertRulePayload(rule=AlertRuleType.of(rule))

    @strawberry.mutation(
        description="Acknowledge a firing alert, as you; acknowledging it again changes nothing "
        "(the first who and when stay). Whoever sees the alert, people only."
    )
    async def acknowledge_alert(
        self,
        info: Info,
        input: Annotated[AcknowledgeAlertInput, strawberry.argument(description="Which alert.")],
    ) -> AlertPayload:
        alert, errors = await attempt(info, input, lambda v: _acknowledge(info, v, input))
        return _alert_payload(alert, errors)

    @strawberry.mutation(
        description="Resolve an open alert, as you; resolving it again changes nothing. "
        "Whoever sees the alert, people only."
    )
    async def resolve_alert(
        self,
        info: Info,
        input: Annotated[ResolveAlertInput, strawberry.argument(description="Which alert.")],
    ) -> AlertPayload:
        alert, errors = await attempt(info, input, lambda v: _resolve(info, v, input))
        return _alert_payload(alert, errors)

    @strawberry.mutation(
        description="Quiet an open alert until a time (at most 30 days ahead), as you; the same "
        "snooze again changes nothing. Whoever sees the alert, people only."
    )
    async def snooze_alert(
        self,
        info: Info,
        input: Annotated[SnoozeAlertInput, strawberry.argument(description="Which and until.")],
    ) -> AlertPayload:
        alert, errors = await attempt(info, input, lambda v: _snooze(info, v, input))
        return _alert_payload(alert, errors)
