"""GraphQL types of live events: what changed, as ids and a few numbers, with its stream version.

Events never carry whole objects: a client reads what it needs with `node(id:)` or the queries,
and, after reconnecting, re-queries what it missed (versions tell it where it stood).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay

from backend.alerts.events import AlertChange

STREAM = "Each event of a stream has the next version; remember the last one seen."


def _global_id(type_name: str, raw: Any) -> relay.GlobalID | None:
    return relay.GlobalID(type_name, str(raw)) if raw is not None else None


@strawberry.type(
    description="A calibration verdict or recalibration map changed, for one agent "
    "or for the whole organisation, and one action type."
)
class CalibrationChangedEvent:
    version: int = strawberry.field(description=f"Position in its stream. {STREAM}")
    stream: str = strawberry.field(description="The stream, e.g. `calibration:agent:7:email`.")
    scope: str = strawberry.field(description="`agent` or `organization`.")
    agent_id: relay.GlobalID | None = strawberry.field(
        description="The agent (global id); null when the scope is the organisation."
    )
    action_type: str = strawberry.field(description="The action type, e.g. `email`.")
    verdict: str = strawberry.field(
        description="insufficient_data, calibrated, overconfident, underconfident or miscalibrated."
    )
    previous_verdict: str | None = strawberry.field(
        description="The verdict before this change; null for the first one."
    )
    sample_size: int = strawberry.field(description="Outcomes the verdict was judged on.")
    recalibration_method: str = strawberry.field(
        description="How the new recalibration map was fitted (e.g. `identity`, `isotonic`)."
    )

    @classmethod
    def of(cls, message: dict[str, Any]) -> CalibrationChangedEvent:
        data = message["data"]
        return cls(
            version=message["version"],
            stream=message["stream"],
            scope=data["scope"],
            agent_id=_global_id("Agent", data.get("agentId")),
            action_type=data["actionType"],
            verdict=data["verdict"],
            previous_verdict=data.get("previousVerdict"),
            sample_size=data["n"],
            recalibration_method=data["method"],
        )


@strawberry.type(description="An agent's policy for one action type has a new version.")
class PolicyChangedEvent:
    version: int = strawberry.field(description=f"Position in its stream. {STREAM}")
    stream: str = strawberry.field(description="The stream, e.g. `policy:agent:7:email`.")
    agent_id: relay.GlobalID = strawberry.field(description="The agent (global id).")
    action_type: str = strawberry.field(description="The action type, e.g. `email`.")
    policy_version: int = strawberry.field(description="The policy's new version.")
    escalate_below: float = strawberry.field(
        description="Confidence under which the agent escalates to a person."
    )
    autonomous_above: float = strawberry.field(
        description="Confidence from which the agent acts without review."
    )
    frozen: bool = strawberry.field(description="Whether automation may move it.")
    changed_by: str = strawberry.field(description="`system` or `user`.")

    @classmethod
    def of(cls, message: dict[str, Any]) -> PolicyChangedEvent:
        data = message["data"]
        return cls(
            version=message["version"],
            stream=message["stream"],
            agent_id=relay.GlobalID("Agent", str(data["agentId"])),
            action_type=data["actionType"],
            policy_version=data["policyVersion"],
            escalate_below=data["escalateBelow"],
            autonomous_above=data["autonomousAbove"],
            frozen=data["frozen"],
            changed_by=data["changedBy"],
        )


@strawberry.type(
    description="An outcome could not be decided automatically: a person must "
    "label it (it is now in `labelQueue`)."
)
class OutcomeNeedsLabelEvent:
    version: int = strawberry.field(description=f"Position in its stream. {STREAM}")
    stream: str = strawberry.field(description="The stream (`labels`, one per organisation).")
    outcome_id: relay.GlobalID = strawberry.field(description="The outcome (global id).")
    agent_id: relay.GlobalID = strawberry.field(description="Its agent (global id).")
    action_id: relay.GlobalID = strawberry.field(description="Its action (global id).")
    action_type: str = strawberry.field(description="The action's type, e.g. `email`.")
    outcome_type: str = strawberry.field(description="e.g. `email_reply`, `deal_progression`.")
    reason: str | None = strawberry.field(description="Why a person must decide it.")

    @classmethod
    def of(cls, message: dict[str, Any]) -> OutcomeNeedsLabelEvent:
        data = message["data"]
        return cls(
            version=message["version"],
            stream=message["stream"],
            outcome_id=relay.GlobalID("Outcome", str(data["outcomeId"])),
            agent_id=relay.GlobalID("Agent", str(data["agentId"])),
            action_id=relay.GlobalID("Action", str(data["actionId"])),
            action_type=data["actionType"],
            outcome_type=data["outcomeType"],
            reason=data.get("reason"),
        )


@strawberry.type(description="A feedback prompt was asked, reminded, answered or expired.")
class FeedbackPromptEvent:
    version: int = strawberry.field(description=f"Position in its stream. {STREAM}")
    stream: str = strawberry.field(
        description="The stream: one per person asked, e.g. `prompts:user:12`."
    )
    change: str = strawberry.field(description="`created`, `reminded`, `answered` or `expired`.")
    state: str = strawberry.field(description="The prompt's state now: open, answered, expired.")
    prompt_id: relay.GlobalID = strawberry.field(
        description="The prompt (FeedbackPrompt global id); read it with `node(id:)`."
    )
    action_id: relay.GlobalID = strawberry.field(description="The action it asks about.")
    agent_id: relay.GlobalID = strawberry.field(description="The agent that acted.")
    assignee_id: relay.GlobalID = strawberry.field(description="The person asked (a User id).")

    @classmethod
    def of(cls, message: dict[str, Any]) -> FeedbackPromptEvent:
        data = message["data"]
        return cls(
            version=message["version"],
            stream=message["stream"],
            change=data["change"],
            state=data["state"],
            prompt_id=relay.GlobalID("FeedbackPrompt", str(data["promptId"])),
            action_id=relay.GlobalID("Action", str(data["actionId"])),
            agent_id=relay.GlobalID("Agent", str(data["agentId"])),
            assignee_id=relay.GlobalID("User", str(data["userId"])),
        )


@strawberry.enum(name="AlertChangeKind", description="What happened to an alert.")
class AlertChangeKind(Enum):
    CREATED = strawberry.enum_value(
        AlertChange.CREATED.value, description="It fired: a rule's condition holds."
    )
    ACKNOWLEDGED = strawberry.enum_value(
        AlertChange.ACKNOWLEDGED.value, description="A person acknowledged it."
    )
    RESOLVED = strawberry.enum_value(
        AlertChange.RESOLVED.value,
        description="Resolved by a person, or by itself once its condition cleared for the "
        "rule's hold period.",
    )
    SNOOZED = strawberry.enum_value(
        AlertChange.SNOOZED.value, description="A person quieted it until a given time."
    )
    REMINDED = strawberry.enum_value(
        AlertChange.REMINDED.value,
        description="Still firing and nobody acknowledged it within the rule's reminder time "
        "(critical rules: an hour unless the rule says otherwise).",
    )


@strawberry.type(
    description="An alert as it stands after a change: what it is about, as ids and a few "
    "words; read the whole alert (its evidence, who acknowledged it) with `node(id:)`."
)
class AlertChangedAlert:
    id: relay.GlobalID = strawberry.field(description="The alert (global id).")
    rule_id: relay.GlobalID = strawberry.field(description="The rule that raised it.")
    kind: str = strawberry.field(
        description="The rule's kind: threshold, anomaly, drift, calibration or policy."
    )
    metric: str | None = strawberry.field(
        description="The metric watched, e.g. `reply_rate`; null for calibration and policy rules."
    )
    action_type: str | None = strawberry.field(
        description="The action type it is about, e.g. `email`; null for all of them."
    )
    severity: str = strawberry.field(description="info, warning or critical.")
    state: str = strawberry.field(description="Its state now: firing, acknowledged or resolved.")
    team_id: relay.GlobalID | None = strawberry.field(
        description="The team it is about (global id); null for an organisation-wide alert."
    )
    agent_id: relay.GlobalID | None = strawberry.field(
        description="The agent it is about (global id); null for a team's or the organisation's."
    )
    message: str = strawberry.field(description="What happened, in one sentence.")


@strawberry.type(
    description="An alert the viewer sees was created, acknowledged, resolved or snoozed."
)
class AlertChangedEvent:
    version: int = strawberry.field(description=f"Position in its stream. {STREAM}")
    stream: str = strawberry.field(description="The stream: one per alert, e.g. `alert:12`.")
    change: AlertChangeKind = strawberry.field(description="What happened.")
    at: dt.datetime = strawberry.field(description="When it happened.")
    by_user_id: relay.GlobalID | None = strawberry.field(
        description="The person who did it (a User id); null when the service did (evaluation, "
        "the hold period)."
    )
    alert: AlertChangedAlert = strawberry.field(description="The alert after the change.")

    @classmethod
    def of(cls, message: dict[str, Any]) -> AlertChangedEvent:
        data = message["data"]
        return cls(
            version=message["version"],
            stream=message["stream"],
            change=AlertChangeKind(data["change"]),
            at=dt.datetime.fromisoformat(data["at"]),
            by_user_id=_global_id("User", data.get("byUserId")),
            alert=AlertChangedAlert(
                id=relay.GlobalID("Alert", str(data["alertId"])),
                rule_id=relay.GlobalID("AlertRule", str(data["ruleId"])),
                kind=data["kind"],
                metric=data.get("metric"),
                action_type=data.get("actionType"),
                severity=data["severity"],
                state=data["state"],
                team_id=_global_id("Team", data.get("teamId")),
                agent_id=_global_id("Agent", data.get("agentId")),
                message=data["message"],
            ),
        )
