"""The demo organisations' configuration: agent policies with their audit entry, human
baselines per team, alert rules and report subscriptions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np

from backend.alerts.models import AlertRule, Direction, RuleKind, Severity
from backend.baselines.models import HumanBaseline
from backend.demo.people import OrgPeople
from backend.demo.planted import CONFIDENCE_DRIFT_ORG, CONFIDENCE_DRIFT_TEAM
from backend.demo.simulation import KINDS
from backend.demo.writer import BulkWriter
from backend.policy.models import AgentPolicy, PolicyChange
from backend.policy.service import policy_defaults
from backend.policy.wording import INITIAL_REASON
from backend.reports.models import Cadence, ReportKind, ReportSubscription
from backend.roi.models import EVERY_ACTION_TYPE, AssumptionName, RoiAssumption

# What a human rep achieves per action type: (response rate, conversion rate, minutes per task),
# each as a (low, high) range a team's baseline is drawn from.
HUMAN_BASELINES: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "email": ((0.06, 0.12), (0.01, 0.03), (6, 12)),
    "follow_up": ((0.05, 0.09), (0.01, 0.02), (4, 8)),
    "meeting": ((0.60, 0.75), (0.15, 0.25), (30, 45)),
    "stage_progression": ((0.35, 0.50), (0.20, 0.30), (10, 20)),
    "escalation": ((0.50, 0.70), (0.10, 0.20), (15, 30)),
}


async def insert_configuration(
    writer: BulkWriter, org: OrgPeople, rng: np.random.Generator, *, since: dt.datetime
) -> None:
    """Insert the configuration of ``org``, as in force since ``since``."""
    org_id = org.organization_id
    policies: list[dict[str, Any]] = [
        {
            "organization_id": org_id,
            "agent_id": rep.agent_id,
            "action_type": kind.value,
            "escalate_below": policy_defaults(kind.value, None).thresholds.escalate_below,
            "autonomous_above": policy_defaults(kind.value, None).thresholds.autonomous_above,
            "frozen": False,
            "version": 1,
            "updated_at": since,
        }
        for rep in org.reps
        for kind in KINDS
    ]
    policy_ids = await writer.insert_returning_ids(
        AgentPolicy, policies, key=("agent_id", "action_type")
    )
    await writer.insert(
        PolicyChange,
        [
            {
                "organization_id": org_id,
                "policy_id": policy_id,
                "agent_id": p["agent_id"],
                "action_type": p["action_type"],
                "version": 1,
                "previous_escalate_below": None,
                "previous_autonomous_above": None,
                "escalate_below": p["escalate_below"],
                "autonomous_above": p["autonomous_above"],
                "reason": INITIAL_REASON,
                "evidence": {},
                "changed_by": "system",
                "changed_by_user_id": None,
                "created_at": since,
            }
            for policy_id, p in zip(policy_ids, policies, strict=True)
        ],
    )
    await writer.insert(HumanBaseline, _baselines(org, rng, since=since))
    await writer.insert(RoiAssumption, _roi_assumptions(org, since=since))
    await writer.insert(AlertRule, _alert_rules(org, since=since))
    await writer.insert(
        ReportSubscription,
        [
            *(
                {
                    "organization_id": org_id,
                    "user_id": manager_id,
                    "kind": ReportKind.MANAGER_DAILY.value,
                    "cadence": Cadence.DAILY.value,
                    "team_id": team_id,
                    "channels": ["email", "slack"],
                    "timezone": "UTC",
                    "send_hour": 8,
                    "weekday": None,
                    "enabled": True,
                    "created_at": since,
                }
                for team_id, manager_id in zip(org.team_ids, org.manager_ids, strict=True)
            ),
            {
                "organization_id": org_id,
                "user_id": org.executive_id,
                "kind": ReportKind.EXECUTIVE_WEEKLY.value,
                "cadence": Cadence.WEEKLY.value,
                "team_id": None,
                "channels": ["email"],
                "timezone": "UTC",
                "send_hour": 8,
                "weekday": 0,
                "enabled": True,
                "created_at": since,
            },
        ],
    )


def _baselines(
    org: OrgPeople, rng: np.random.Generator, *, since: dt.datetime
) -> list[dict[str, Any]]:
    rows = []
    for team_id, team in zip(org.team_ids, org.plan.teams, strict=True):
        for action_type, (response, conversion, minutes) in HUMAN_BASELINES.items():
            rows.append(
                {
                    "organization_id": org.organization_id,
                    "team_id": team_id,
                    "action_type": action_type,
                    "response_rate": round(float(rng.uniform(*response)), 3),
                    "conversion_rate": round(float(rng.uniform(*conversion)), 3),
                    "minutes_per_task": round(float(rng.uniform(*minutes)), 1),
                    "loaded_hourly_cost": Decimal(team.hourly_cost),
                    "currency": "USD",
                    "sample_size": int(rng.integers(150, 1500)),
                    "valid_from": since.date(),
                    "created_at": since,
                }
            )
    return rows


# What the demo's executive set for the ROI (name, action type, low, expected, high): finance's
# range of the loaded hourly cost, the platform's price per action, minutes per task from a time
# study, and what a success is worth
# (the pipeline a positive reply or an attended first meeting opens, the deals a stage move
# brings closer). The rest stay at their baselines and defaults, shown as such.
ROI_ASSUMPTIONS: tuple[tuple[AssumptionName, str, float, float, float], ...] = (
    (AssumptionName.LOADED_HOURLY_COST, EVERY_ACTION_TYPE, 55.0, 65.0, 80.0),
    (AssumptionName.PLATFORM_COST_PER_ACTION, EVERY_ACTION_TYPE, 0.02, 0.03, 0.05),
    # a time study: the minutes a rep takes for the same task by hand (the baselines' figures
    # time the whole job, e.g. holding the meeting rather than booking it)
    (AssumptionName.MINUTES_PER_TASK, "email", 3.0, 5.0, 8.0),
    (AssumptionName.MINUTES_PER_TASK, "follow_up", 2.0, 3.0, 5.0),
    (AssumptionName.MINUTES_PER_TASK, "meeting", 5.0, 10.0, 15.0),
    (AssumptionName.MINUTES_PER_TASK, "stage_progression", 3.0, 5.0, 10.0),
    (AssumptionName.VALUE_PER_SUCCESS, "email", 40.0, 75.0, 120.0),
    (AssumptionName.VALUE_PER_SUCCESS, "follow_up", 30.0, 60.0, 100.0),
    (AssumptionName.VALUE_PER_SUCCESS, "meeting", 800.0, 1500.0, 2500.0),
    (AssumptionName.VALUE_PER_SUCCESS, "stage_progression", 500.0, 1200.0, 2000.0),
)
ROI_REASON = "Finance's planning figures for the agent pilot (range agreed with the CFO)"


def _roi_assumptions(org: OrgPeople, *, since: dt.datetime) -> list[dict[str, Any]]:
    """Version 1 of the ROI assumptions, set by the executive when the pilot started."""
    return [
        {
            "organization_id": org.organization_id,
            "name": name.value,
            "action_type": action_type,
            "low": low,
            "expected": expected,
            "high": high,
            "effective_from": since.date(),
            "version": 1,
            "reason": ROI_REASON,
            "changed_by_id": org.executive_id,
            "api_client_id": None,
            "created_at": since,
        }
        for name, action_type, low, expected, high in ROI_ASSUMPTIONS
    ]


def _alert_rules(org: OrgPeople, *, since: dt.datetime) -> list[dict[str, Any]]:
    def rule(
        name: str,
        metric: str,
        kind: RuleKind,
        direction: Direction | None,
        threshold: float | None,
        *,
        action_type: str | None = None,
        team_id: int | None = None,
        window_days: int = 7,
        severity: Severity = Severity.WARNING,
        channels: tuple[str, ...] = ("dashboard",),
        author: int,
    ) -> dict[str, Any]:
        return {
            "organization_id": org.organization_id,
            "name": name,
            "metric": metric,
            "action_type": action_type,
            "scope": "team" if team_id else "organization",
            "team_id": team_id,
            "agent_id": None,
            "kind": kind.value,
            "direction": direction.value if direction else None,
            "hold_hours": 24,
            "threshold": threshold,
            "window_days": window_days,
            "severity": severity.value,
            "channels": list(channels),
            "enabled": True,
            "created_by_id": author,
            "created_at": since,
        }

    teams = list(zip(org.plan.teams, org.team_ids, org.manager_ids, strict=True))
    # Each manager watches a sustained drop of their team's reply rate (e-mails and follow-ups):
    # the detector's CUSUM against the team's own weekday baseline, which the ordinary weekly
    # noise of a steady team does not cross (a threshold at 9 % fired on weak weeks of steady
    # teams; one low enough not to would miss a drop of a team with a high rate). A drop found
    # stays an alert for six weeks, so it does not resolve while it lasts.
    rules = [
        rule(
            f"{team.name}: sustained drop in reply rate",
            "reply_rate",
            RuleKind.DRIFT,
            Direction.BELOW,
            None,
            team_id=team_id,
            window_days=42,
            channels=("dashboard", "slack"),
            author=manager_id,
        )
        for team, team_id, manager_id in teams
    ]
    # Mid-Market tries the agents' prompt changes first, so its manager also watches their
    # e-mail calibration. Over the replayed history Mid-Market's planted changes fire its rules
    # (``backend.demo.planted``); the steady teams' rules fire nothing.
    rules += [
        rule(
            f"{team.name}: e-mail confidence miscalibrated",
            "calibration_verdict",
            RuleKind.CALIBRATION,
            None,
            None,
            action_type="email",
            team_id=team_id,
            channels=("dashboard", "slack"),
            author=manager_id,
        )
        for team, team_id, manager_id in teams
        if (org.plan.slug, team.name) == (CONFIDENCE_DRIFT_ORG, CONFIDENCE_DRIFT_TEAM)
    ]
    # The executive's bound on the calibration error (the planted miscalibration of meetings
    # and escalations keeps Demo Corp's near 4 %). Acme's pilot does without: about a hundred
    # outcomes a month put its debiased error anywhere from 0 to 11 % on noise alone.
    if sum(team.reps for team in org.plan.teams) * org.plan.actions_per_agent[0] >= 10_000:
        rules.append(
            rule(
                "Calibration error above 5%",
                "calibration_error",
                RuleKind.THRESHOLD,
                Direction.ABOVE,
                0.05,
                window_days=30,
                channels=("dashboard", "email"),
                author=org.executive_id,
            )
        )
    # Escalations are where an overconfident agent costs most (it hands a customer over too
    # late): the executive hears when their calibration goes wrong and when automation moves
    # their policy.
    rules.append(
        rule(
            "Escalations miscalibrated",
            "calibration_verdict",
            RuleKind.CALIBRATION,
            None,
            None,
            action_type="escalation",
            severity=Severity.CRITICAL,
            channels=("dashboard", "email"),
            author=org.executive_id,
        )
    )
    rules.append(
        rule(
            "Escalation policy moved",
            "policy_change",
            RuleKind.POLICY,
            None,
            None,
            action_type="escalation",
            channels=("dashboard",),
            author=org.executive_id,
        )
    )
    return rules
