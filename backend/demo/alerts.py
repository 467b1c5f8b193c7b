"""The demo's alert history, made by the product's own alert code as the loop is replayed.

At each replayed moment the calibration and policy rules hear the `calibration.changed` and
`policy.changed` events that moment raised (``alerts.triggers``, what the handlers do after
commit; the seed holds its events back, so they are handed over here), and the worker's job
evaluates the threshold, anomaly and drift rules on the rollups (``alerts.evaluation``).
People answer the next morning: the manager of the alert's team (the executive for an
organisation-wide alert) acknowledges what fired, or resolves a policy notice they have read;
the worker's job runs again a day after the moment and resolves what has cleared for its hold
period (and people answer what it raised the morning after). What fires at ``now`` is still
firing: nobody has seen it yet.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alerts.evaluation import (
    evaluate_rule,
    resolve_cleared_event_alerts,
    rules_to_evaluate,
)
from backend.alerts.models import Alert, AlertRule, AlertState, RuleKind, Severity
from backend.alerts.service import acknowledge_alert, resolve_alert
from backend.alerts.state import OPEN
from backend.alerts.triggers import alerts_from_calibration, alerts_from_policy
from backend.auth.service import viewer_of_user
from backend.demo.people import OrgPeople
from backend.events.service import Event
from backend.unit_of_work import PENDING_KEY

# When people read the alerts of a moment (the moments are at 00:00 UTC): the next morning.
ANSWERED_AFTER = dt.timedelta(hours=9, minutes=30)
# When the worker's job is replayed again after a moment: past the rules' 24-hour hold.
WORKER_AGAIN_AFTER = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class AlertReport:
    """The alerts the replay left, by state."""

    firing: int
    acknowledged: int
    resolved: int

    @property
    def total(self) -> int:
        return self.firing + self.acknowledged + self.resolved

    def summary(self) -> str:
        """E.g. "12 alerts: 5 acknowledged, 4 resolved, 3 firing"."""
        return (
            f"{self.total:,} alerts: {self.acknowledged:,} acknowledged,"
            f" {self.resolved:,} resolved, {self.firing:,} firing"
        )


def pending_events(session: AsyncSession) -> list[Any]:
    """The events raised so far in ``session``'s unit of work (held until commit)."""
    return list(session.info.get(PENDING_KEY, []))


async def raise_alerts_at(
    session: AsyncSession,
    orgs: Sequence[OrgPeople],
    events: Sequence[Any],
    *,
    moment: dt.datetime,
    last: bool,
) -> None:
    """The alerts of one replayed moment: the triggers on its calibration and policy events and
    the worker's job at ``moment``; unless it is the ``last`` (``now``), people's answers the
    next morning and the worker's job a day later."""
    moved = await _heard_by_rules(session, events)
    await alerts_from_calibration(session, moved, now=moment)
    await alerts_from_policy(session, moved, now=moment)
    await run_alert_job(session, orgs, now=moment)
    if last:
        return
    await answer_alerts(session, orgs, now=moment + ANSWERED_AFTER)
    later = moment + WORKER_AGAIN_AFTER
    await run_alert_job(session, orgs, now=later, only_cleared=True)
    await answer_alerts(session, orgs, now=later + ANSWERED_AFTER)


async def _heard_by_rules(session: AsyncSession, events: Sequence[Any]) -> list[Event]:
    """The calibration and policy events some enabled rule of their kind may hear (the
    triggers find no rule for the others and change nothing: skipping them keeps seeding fast)."""
    kinds = {"calibration.changed": RuleKind.CALIBRATION, "policy.changed": RuleKind.POLICY}
    rules = await session.execute(
        select(AlertRule.organization_id, AlertRule.kind, AlertRule.action_type).where(
            AlertRule.kind.in_([k.value for k in kinds.values()]),
            AlertRule.enabled.is_(True),
            AlertRule.deleted_at.is_(None),
        )
    )
    watched = {tuple(row) for row in rules}
    return [
        e
        for e in events
        if isinstance(e, Event)
        and e.name in kinds
        and {
            (e.organization_id, kinds[e.name].value, None),
            (e.organization_id, kinds[e.name].value, e.data.get("actionType")),
        }
        & watched
    ]


async def run_alert_job(
    session: AsyncSession,
    orgs: Sequence[OrgPeople],
    *,
    now: dt.datetime,
    only_cleared: bool = False,
) -> None:
    """The worker's `evaluate_alert_rules` job at ``now``, for the demo's organisations;
    ``only_cleared``: only the rules whose open alert has cleared (what may resolve)."""
    cleared = set(
        await session.scalars(
            select(Alert.rule_id).where(Alert.state.in_(OPEN), Alert.cleared_at.is_not(None))
        )
    )
    for org in orgs:
        for rule_id in await rules_to_evaluate(session, organization_id=org.organization_id):
            if not only_cleared or rule_id in cleared:
                await evaluate_rule(session, rule_id, now=now)
    await resolve_cleared_event_alerts(session, now=now)


async def answer_alerts(
    session: AsyncSession, orgs: Sequence[OrgPeople], *, now: dt.datetime
) -> None:
    """Each firing alert's reader answers it through the alerts service at ``now``: a policy
    notice is read and resolved; any other alert that is not merely informational is
    acknowledged (informational ones wait for the worker to resolve them)."""
    for org in orgs:
        readers = dict(zip(org.team_ids, org.manager_ids, strict=True))
        firing = await session.scalars(
            select(Alert)
            .where(
                Alert.organization_id == org.organization_id,
                Alert.state == AlertState.FIRING.value,
                Alert.fired_at < now,
            )
            .order_by(Alert.id)
        )
        for alert in list(firing):
            reader = org.executive_id if alert.team_id is None else readers[alert.team_id]
            viewer = await viewer_of_user(session, reader)
            assert viewer is not None, "the demo's readers are active users"
            if alert.kind == RuleKind.POLICY.value:
                await resolve_alert(session, viewer, alert.id, now=now)
            elif alert.severity != Severity.INFO.value:
                await acknowledge_alert(session, viewer, alert.id, now=now)


async def alert_report(session: AsyncSession, orgs: Sequence[OrgPeople]) -> AlertReport:
    states = Counter(
        await session.scalars(
            select(Alert.state).where(
                Alert.organization_id.in_([org.organization_id for org in orgs])
            )
        )
    )
    return AlertReport(
        firing=states[AlertState.FIRING.value],
        acknowledged=states[AlertState.ACKNOWLEDGED.value],
        resolved=states[AlertState.RESOLVED.value],
    )
