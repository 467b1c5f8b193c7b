"""GraphQL types: AlertRule (what is watched, for whom, how it fires; its audit trail) and Alert
(what a rule found about one subject: its state, who moved it and when, and its evidence)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, TypeAlias

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.agents.models import Agent
from backend.alerts import models
from backend.alerts.service import sees_alert
from backend.orgs.models import Team, User
from backend.pagination import DEFAULT_PAGE, check_first
from graphql_schema.agents.types import AgentType
from graphql_schema.filters import After, First
from graphql_schema.loaders import by_id, rule_history
from graphql_schema.nodes import load_nodes
from graphql_schema.orgs.types import TeamType, UserType
from graphql_schema.relay import Connection

# Each GraphQL enum is the domain's enum registered with Strawberry; the alias names it
# in annotations (a call's result is no type to mypy).
strawberry.enum(
    models.RuleKind,
    name="AlertRuleKind",
    description="THRESHOLD (a metric above/below a value over a trailing window), ANOMALY (a "
    "day off the metric's own weekday baseline), DRIFT (a sustained shift, CUSUM), CALIBRATION "
    "(a verdict turned miscalibrated, or its debiased error passed the threshold), POLICY "
    "(automation moved a threshold; a policy was frozen or rolled back).",
)
RuleKind: TypeAlias = models.RuleKind
strawberry.enum(
    models.Direction,
    name="AlertDirection",
    description="Threshold: fire ABOVE or BELOW it. Anomaly and drift: spikes only (ABOVE) or "
    "drops only (BELOW).",
)
Direction: TypeAlias = models.Direction
strawberry.enum(models.Severity, name="AlertSeverity", description="INFO, WARNING or CRITICAL.")
Severity: TypeAlias = models.Severity
strawberry.enum(
    models.AlertState,
    name="AlertState",
    description="FIRING -> ACKNOWLEDGED -> RESOLVED (by a person, or by itself once the "
    "condition stayed cleared for the rule's hold period).",
)
AlertState: TypeAlias = models.AlertState
strawberry.enum(
    models.RuleChangeKind,
    name="AlertRuleChangeKind",
    description="What a change to a rule was: CREATED, UPDATED, DISABLED, ENABLED or DELETED.",
)
RuleChangeKind: TypeAlias = models.RuleChangeKind


@strawberry.enum(description="What a rule watches: the organisation, one team or one agent.")
class AlertScope(StrEnum):
    ORGANIZATION = "organization"
    TEAM = "team"
    AGENT = "agent"


@strawberry.enum(description="Where a rule's alerts are delivered.")
class AlertChannel(StrEnum):
    DASHBOARD = "dashboard"
    EMAIL = "email"
    SLACK = "slack"


CHANNEL_VALUES = frozenset(c.value for c in AlertChannel)


async def _user(info: Info, user_id: int | None) -> UserType | None:
    if user_id is None:
        return None
    row = await info.context.loaders.get(by_id(User)).load(user_id)
    return UserType.of(row) if row is not None else None


async def _team(info: Info, team_id: int | None) -> TeamType | None:
    if team_id is None:
        return None
    row = await info.context.loaders.get(by_id(Team)).load(team_id)
    return TeamType.of(row) if row is not None else None


async def _agent(info: Info, agent_id: int | None) -> AgentType | None:
    if agent_id is None:
        return None
    row = await info.context.loaders.get(by_id(Agent)).load(agent_id)
    return AgentType.of(row) if row is not None else None


@strawberry.type(description="One change to a rule: who, when, and the rule before and after.")
class AlertRuleChange:
    change: RuleChangeKind = strawberry.field(description="What kind of change it was.")
    changed_at: dt.datetime = strawberry.field(description="When.")
    before: JSON | None = strawberry.field(
        description="The rule's definition before (snake_case names); null when it was created."
    )
    after: JSON | None = strawberry.field(
        description="The rule's definition after (snake_case names); null when it was deleted."
    )
    changed_by_id: strawberry.Private[int | None]

    @strawberry.field(description="Who changed it; null for a person since removed.")
    async def changed_by(self, info: Info) -> UserType | None:
        return await _user(info, self.changed_by_id)

    @classmethod
    def of(cls, row: models.AlertRuleChange) -> AlertRuleChange:
        return cls(
            change=models.RuleChangeKind(row.change),
            changed_at=row.changed_at,
            before=JSON(row.before) if row.before is not None else None,
            after=JSON(row.after) if row.after is not None else None,
            changed_by_id=row.changed_by_id,
        )


@strawberry.type(
    name="AlertRule",
    description="What is watched (a metric or an event), for whom (the organisation, a team or "
    "an agent, optionally one action type), when it fires and where it is delivered.",
)
class AlertRuleType(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Its name, unique among live rules.")
    kind: RuleKind = strawberry.field(description="How it judges.")
    metric: str = strawberry.field(
        description="What it watches: reply_rate, meeting_attendance_rate, escalation_rate, "
        "escalation_appropriateness, calibration_error, cost_per_interaction, feedback_score, "
        "label_queue_age, unanswered_prompts, calibration_verdict or policy_change."
    )
    action_type: str | None = strawberry.field(description="Only this action type; null for all.")
    scope: AlertScope = strawberry.field(description="Whom it watches.")
    direction: Direction | None = strawberry.field(
        description="Which side fires; null for anomaly and drift rules that watch both."
    )
    threshold: float | None = strawberry.field(description="The bound it fires past.")
    clear_threshold: float | None = strawberry.field(
        description="Where an open threshold alert clears (hysteresis); null: 10 % of the "
        "threshold back on the good side."
    )
    window_days: int = strawberry.field(description="The trailing days it judges.")
    hold_hours: int = strawberry.field(
        description="How long the condition must stay cleared before its alert resolves itself."
    )
    severity: Severity = strawberry.field(description="The severity of its alerts.")
    channels: list[AlertChannel] = strawberry.field(description="Where its alerts go.")
    slack_channel: str | None = strawberry.field(
        description="The Slack channel its alerts are posted to; null: the workspace's default "
        "channel (or, without one, a direct message to each person who sees the alert)."
    )
    remind_after_minutes: int | None = strawberry.field(
        description="Minutes a firing alert may go unacknowledged before it is announced again "
        "(then each period, at most three times); null: critical rules hourly, others never."
    )
    enabled: bool = strawberry.field(description="Whether it is evaluated.")
    created_at: dt.datetime = strawberry.field(description="When it was created.")
    updated_at: dt.datetime | None = strawberry.field(description="When it last changed.")
    deleted_at: dt.datetime | None = strawberry.field(
        description="When it was deleted (kept, never evaluated again); null while live."
    )
    team_id: strawberry.Private[int | None]
    agent_id: strawberry.Private[int | None]
    created_by_id: strawberry.Private[int | None]

    @strawberry.field(description="The team it watches, or its agent's team; null otherwise.")
    async def team(self, info: Info) -> TeamType | None:
        return await _team(info, self.team_id)

    @strawberry.field(description="The agent it watches; null unless its scope is AGENT.")
    async def agent(self, info: Info) -> AgentType | None:
        return await _agent(info, self.agent_id)

    @strawberry.field(description="Who created it; null when seeded or since removed.")
    async def created_by(self, info: Info) -> UserType | None:
        return await _user(info, self.created_by_id)

    @strawberry.field(
        description="Its audit trail, newest first: every creation, change, disabling, enabling "
        "and deletion with who and when (the first pages of a list's rules are read together)."
    )
    async def history(
        self, info: Info, first: First = DEFAULT_PAGE, after: After = None
    ) -> Connection[AlertRuleChange]:
        key = (self.id, check_first(first), after)
        page = await info.context.loaders.get(rule_history).load(key)
        return Connection.of(page, AlertRuleChange.of, info)

    @classmethod
    def of(cls, row: models.AlertRule) -> AlertRuleType:
        return cls(
            id=row.id,
            name=row.name,
            kind=models.RuleKind(row.kind),
            metric=row.metric,
            action_type=row.action_type,
            scope=AlertScope(row.scope),
            direction=models.Direction(row.direction) if row.direction else None,
            threshold=row.threshold,
            clear_threshold=row.clear_threshold,
            window_days=row.window_days,
            hold_hours=row.hold_hours,
            severity=models.Severity(row.severity),
            channels=[AlertChannel(c) for c in row.channels or [] if c in CHANNEL_VALUES],
            slack_channel=row.slack_channel,
            remind_after_minutes=row.remind_after_minutes,
            enabled=row.enabled,
            created_at=row.created_at,
            updated_at=row.updated_at,
            deleted_at=row.deleted_at,
            team_id=row.team_id,
            agent_id=row.agent_id,
            created_by_id=row.created_by_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        viewer = info.context.require_viewer()
        if viewer.api_client_id is not None:  # rules are read by people
            return [None for _ in node_ids]
        return await load_nodes(info, models.AlertRule, node_ids, cls.of, required=required)


@strawberry.type(description="The dates a finding covers.")
class AlertWindow:
    start: dt.date | None = strawberry.field(description="First day judged.")
    end: dt.date | None = strawberry.field(description="Last day judged.")


@strawberry.type(
    description="What an alert rests on: the values, the baseline, the window, and the ids to "
    "open next."
)
class AlertEvidence:
    value: float | None = strawberry.field(
        description="The observed value (a rate, a debiased calibration error, a threshold the "
        "policy moved to)."
    )
    baseline: float | None = strawberry.field(
        description="What was expected: the weekday baseline, the rule's threshold, or the "
        "policy's previous value."
    )
    n: int | None = strawberry.field(description="The trials (or outcomes) the value rests on.")
    window: AlertWindow | None = strawberry.field(
        description="The days judged; null for event-driven (calibration, policy) alerts."
    )
    policy_change_id: int | None = strawberry.field(
        description="The policy change to open (see `policyHistory`); policy alerts only."
    )
    policy_version: int | None = strawberry.field(
        description="The policy version it is about; policy alerts only."
    )
    event_stream: str | None = strawberry.field(
        description="The live event stream it came from (e.g. `calibration:...`)."
    )
    event_version: int | None = strawberry.field(description="That event's version.")
    details: JSON = strawberry.field(
        description="Everything the detector or event recorded (e.g. z, pValue, "
        "relativeChange, verdict, previousVerdict, escalateBelow, autonomousAbove)."
    )

    @classmethod
    def of(cls, row: models.Alert) -> AlertEvidence:
        evidence: dict[str, Any] = dict(row.evidence or {})
        window = evidence.get("window")
        value = evidence.get("value", evidence.get("debiasedError", row.observed))
        baseline = evidence.get("baseline", row.expected)
        return cls(
            value=_number(value),
            baseline=_number(baseline),
            n=_integer(evidence.get("n")),
            window=AlertWindow(start=_date(window.get("from")), end=_date(window.get("to")))
            if isinstance(window, dict)
            else None,
            policy_change_id=_integer(evidence.get("policyChangeId")),
            policy_version=_integer(evidence.get("policyVersion")),
            event_stream=evidence.get("stream"),
            event_version=_integer(evidence.get("version")),
            details=JSON(evidence),
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _integer(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


@strawberry.type(
    name="Alert",
    description="What a rule found about one subject (its scope, or an agent and action type "
    "for calibration and policy rules): FIRING -> ACKNOWLEDGED -> RESOLVED, with who and when, "
    "and its evidence.",
)
class AlertType(relay.Node):
    id: relay.NodeID[int]
    kind: RuleKind = strawberry.field(description="The rule's kind when it fired.")
    metric: str = strawberry.field(description="The metric or event it is about.")
    action_type: str | None = strawberry.field(description="The action type; null for all.")
    severity: Severity = strawberry.field(description="How serious.")
    state: AlertState = strawberry.field(description="Where it stands.")
    subject: str = strawberry.field(
        description="What it is about: `organization`, `team:<id>`, `agent:<id>` or "
        "`agent:<id>:<actionType>`."
    )
    message: str = strawberry.field(description="One sentence for a person, with its numbers.")
    evidence: AlertEvidence = strawberry.field(description="What it rests on.")
    fired_at: dt.datetime = strawberry.field(description="When it opened.")
    last_seen_at: dt.datetime = strawberry.field(description="When its condition last held.")
    cleared_at: dt.datetime | None = strawberry.field(
        description="Since when its condition has cleared; null while it holds."
    )
    acknowledged_at: dt.datetime | None = strawberry.field(description="When acknowledged.")
    resolved_at: dt.datetime | None = strawberry.field(description="When resolved.")
    snoozed_until: dt.datetime | None = strawberry.field(
        description="Quiet until then (it may have passed)."
    )
    reminders: int = strawberry.field(
        description="How many times it was announced again because nobody acknowledged it."
    )
    reminded_at: dt.datetime | None = strawberry.field(description="When last reminded.")
    updated_at: dt.datetime = strawberry.field(description="When it last changed.")
    rule_id: strawberry.Private[int]
    team_id: strawberry.Private[int | None]
    agent_id: strawberry.Private[int | None]
    acknowledged_by_id: strawberry.Private[int | None]
    resolved_by_id: strawberry.Private[int | None]
    snoozed_by_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The rule that raised it; null when the rule is out of your sight (e.g. an "
        "organisation rule seen by a rep)."
    )
    async def rule(self, info: Info) -> AlertRuleType | None:
        if info.context.require_viewer().api_client_id is not None:
            return None
        row = await info.context.loaders.get(by_id(models.AlertRule)).load(self.rule_id)
        return AlertRuleType.of(row) if row is not None else None

    @strawberry.field(description="The team it is about (an agent's alert: the agent's team).")
    async def team(self, info: Info) -> TeamType | None:
        return await _team(info, self.team_id)

    @strawberry.field(description="The agent it is about; null for a team or organisation.")
    async def agent(self, info: Info) -> AgentType | None:
        return await _agent(info, self.agent_id)

    @strawberry.field(description="Who acknowledged it; null when nobody has.")
    async def acknowledged_by(self, info: Info) -> UserType | None:
        return await _user(info, self.acknowledged_by_id)

    @strawberry.field(
        description="Who resolved it; null when open, or when it resolved itself (`resolvedAt` "
        "set)."
    )
    async def resolved_by(self, info: Info) -> UserType | None:
        return await _user(info, self.resolved_by_id)

    @strawberry.field(description="Who snoozed it; null when nobody has.")
    async def snoozed_by(self, info: Info) -> UserType | None:
        return await _user(info, self.snoozed_by_id)

    @strawberry.field(description="Whether it is snoozed now (`snoozedUntil` still ahead).")
    def snoozed(self, info: Info) -> bool:
        return self.snoozed_until is not None and self.snoozed_until > info.context.now()

    @classmethod
    def of(cls, row: models.Alert) -> AlertType:
        return cls(
            id=row.id,
            kind=models.RuleKind(row.kind),
            metric=row.metric,
            action_type=row.action_type,
            severity=models.Severity(row.severity),
            state=models.AlertState(row.state),
            subject=row.subject,
            message=row.message,
            evidence=AlertEvidence.of(row),
            fired_at=row.fired_at,
            last_seen_at=row.last_seen_at,
            cleared_at=row.cleared_at,
            acknowledged_at=row.acknowledged_at,
            resolved_at=row.resolved_at,
            snoozed_until=row.snoozed_until,
            reminders=row.reminders,
            reminded_at=row.reminded_at,
            updated_at=row.updated_at,
            rule_id=row.rule_id,
            team_id=row.team_id,
            agent_id=row.agent_id,
            acknowledged_by_id=row.acknowledged_by_id,
            resolved_by_id=row.resolved_by_id,
            snoozed_by_id=row.snoozed_by_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        viewer = info.context.require_viewer()

        def visible(row: models.Alert) -> AlertType | None:
            if viewer.api_client_id is not None:  # alerts are read by people
                return None
            return (
                cls.of(row)
                if sees_alert(viewer, team_id=row.team_id, agent_id=row.agent_id)
                else None
            )

        return await load_nodes(info, models.Alert, node_ids, visible, required=required)
