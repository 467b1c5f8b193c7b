"""Calibration and policy rules fire from their domains' events after commit; rules are managed
by managers (their teams), executives and admins, validated by field and audited; alerts are
acknowledged, resolved and snoozed by who sees them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.alerts.evaluation import resolve_cleared_event_alerts
from backend.alerts.models import Alert, AlertRule, AlertRuleChange
from backend.alerts.rules import RuleInput, delete_rule, upsert_rule
from backend.alerts.service import (
    acknowledge_alert,
    alerts_page,
    resolve_alert,
    snooze_alert,
)
from backend.auth.service import viewer_for_user
from backend.errors import DomainError, InvalidInput
from backend.events.service import record_event
from backend.policy.service import freeze_policy, get_or_create_policy
from backend.unit_of_work import transaction
from tests.backend.alerts.builders import add_rule
from tests.backend.conftest import Loop
from tests.factories import NOW


async def _verdict(loop: Loop, agent_id: int, verdict: str) -> None:
    async with transaction(loop.state.sessions) as session:
        await record_event(
            session,
            name="calibration.changed",
            organization_id=loop.admin.organization_id,
            stream=f"calibration:agent:{agent_id}:email",
            data={
                "scope": "agent",
                "agentId": agent_id,
                "actionType": "email",
                "verdict": verdict,
                "previousVerdict": None,
                "n": 400,
                "method": "isotonic",
            },
        )


async def _alerts(loop: Loop) -> list[Alert]:
    async with loop.state.sessions() as session:
        return list(await session.scalars(select(Alert).order_by(Alert.id)))


async def test_a_calibration_verdict_fires_and_its_recovery_resolves_after_the_hold(
    loop: Loop,
) -> None:
    world: Any = loop.world
    agent = world.agents["rep_a1"]
    async with transaction(loop.state.sessions) as session:
        await add_rule(
            session, agent.organization_id, kind="calibration", metric="calibration_verdict"
        )
    await _verdict(loop, agent.id, "overconfident")  # the handler runs after this commit
    [alert] = await _alerts(loop)
    assert (alert.state, alert.agent_id, alert.team_id) == ("firing", agent.id, agent.team_id)
    assert alert.subject == f"agent:{agent.id}:email"
    assert alert.evidence["verdict"] == "overconfident"
    await _verdict(loop, agent.id, "calibrated")
    [alert] = await _alerts(loop)
    assert alert.state == "firing" and alert.cleared_at is not None
    async with transaction(loop.state.sessions) as session:
        later = alert.cleared_at + dt.timedelta(hours=24)
        assert await resolve_cleared_event_alerts(session, now=later) == 1
    [alert] = await _alerts(loop)
    assert alert.state == "resolved" and alert.resolved_by_id is None


async def test_a_frozen_policy_is_a_notice_for_the_team_s_policy_rule(loop: Loop) -> None:
    world: Any = loop.world
    agent, other = world.agents["rep_a1"], world.agents["rep_b1"]
    async with transaction(loop.state.sessions) as session:
        await add_rule(
            session,
            agent.organization_id,
            kind="policy",
            metric="policy_change",
            scope="team",
            team_id=agent.team_id,
        )
    for who in (agent, other):  # rep_b1's agent is in another team: no alert
        async with transaction(loop.state.sessions) as session:
            await get_or_create_policy(
                session, organization_id=who.organization_id, agent_id=who.id, action_type="email"
            )
            await freeze_policy(
                session, loop.admin, agent_id=who.id, action_type="email", frozen=True, reason="x"
            )
    [alert] = await _alerts(loop)
    assert (alert.kind, alert.agent_id, alert.state) == ("policy", agent.id, "firing")
    assert alert.evidence["frozen"] is True and alert.evidence["policyChangeId"] is not None


def _rule(**values: Any) -> RuleInput:
    base: dict[str, Any] = {
        "name": "Replies",
        "kind": "threshold",
        "metric": "reply_rate",
        "direction": "below",
        "threshold": 0.05,
        "scope": "team",
    }
    return RuleInput(**{**base, **values})


async def _count(loop: Loop, model: Any) -> int:
    async with loop.state.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_rules_are_validated_by_field_and_a_rejected_rule_changes_nothing(
    loop: Loop,
) -> None:
    world: Any = loop.world
    alpha, beta = world.teams["alpha"].id, world.teams["beta"].id
    cases: list[tuple[RuleInput, set[str | None]]] = [
        (_rule(team_id=alpha, metric="mood"), {"metric"}),
        (_rule(team_id=alpha, threshold=1.5), {"threshold"}),
        (_rule(team_id=alpha, window_days=0), {"windowDays"}),
        (_rule(team_id=alpha, channels=["fax"]), {"channels"}),
        (_rule(team_id=alpha, kind="anomaly", metric="calibration_error"), {"metric"}),
        (_rule(team_id=alpha, clear_threshold=0.04), {"clearThreshold"}),
        (_rule(team_id=alpha, direction=None), {"direction"}),
        (_rule(team_id=alpha, action_type="E-mail"), {"actionType"}),
        (_rule(team_id=beta), {"teamId"}),  # not the manager's team: not found
        (_rule(scope="organization"), {"scope"}),
    ]
    for given, fields in cases:
        with pytest.raises(DomainError) as raised:
            async with transaction(loop.state.sessions) as session:
                await upsert_rule(session, loop.manager, given, now=NOW)
        errors = raised.value.errors if isinstance(raised.value, InvalidInput) else [raised.value]
        assert {e.field for e in errors} == fields, given
    assert await _count(loop, AlertRule) == 0
    assert await _count(loop, AlertRuleChange) == 0
    with pytest.raises(DomainError) as raised:
        async with transaction(loop.state.sessions) as session:
            await upsert_rule(session, loop.rep, _rule(team_id=alpha), now=NOW)
    assert raised.value.code == "forbidden"


async def test_rules_are_audited_and_a_retry_counts_once(loop: Loop) -> None:
    world: Any = loop.world
    alpha = world.teams["alpha"].id
    async with transaction(loop.state.sessions) as session:
        rule = await upsert_rule(session, loop.manager, _rule(team_id=alpha), now=NOW)
    async with transaction(loop.state.sessions) as session:
        again = await upsert_rule(session, loop.manager, _rule(team_id=alpha), now=NOW)
    assert again.id == rule.id
    later = NOW + dt.timedelta(hours=1)
    async with transaction(loop.state.sessions) as session:
        await upsert_rule(
            session, loop.manager, _rule(team_id=alpha, enabled=False, rule_id=rule.id), now=later
        )
    async with transaction(loop.state.sessions) as session:
        await delete_rule(session, loop.manager, rule.id, now=later)
    async with transaction(loop.state.sessions) as session:
        await delete_rule(session, loop.manager, rule.id, now=later)
    async with loop.state.sessions() as session:
        changes = list(await session.scalars(select(AlertRuleChange).order_by(AlertRuleChange.id)))
    manager_id = world.users["manager_a"].id
    assert [(c.change, c.changed_by_id) for c in changes] == [
        ("created", manager_id),
        ("disabled", manager_id),
        ("deleted", manager_id),
    ]
    assert changes[1].before["enabled"] is True and changes[1].after["enabled"] is False


async def test_alerts_are_seen_acknowledged_and_snoozed_within_scope(loop: Loop) -> None:
    world: Any = loop.world
    a1, b1 = world.agents["rep_a1"], world.agents["rep_b1"]
    async with transaction(loop.state.sessions) as session:
        await add_rule(
            session, a1.organization_id, kind="calibration", metric="calibration_verdict"
        )
    await _verdict(loop, a1.id, "overconfident")
    await _verdict(loop, b1.id, "underconfident")
    async with transaction(loop.state.sessions) as session:
        viewers = {
            k: await viewer_for_user(session, world.users[k])
            for k in ("rep_a1", "rep_b1", "manager_a", "exec_n", "exec_s")
        }

    async def seen(key: str) -> list[int | None]:
        async with loop.state.sessions() as session:
            page = await alerts_page(session, viewers[key])
        return sorted(a.agent_id for a in page.items if a.agent_id is not None)

    assert await seen("rep_a1") == [a1.id]
    assert await seen("rep_b1") == [b1.id]
    assert await seen("manager_a") == [a1.id]
    assert await seen("exec_n") == sorted([a1.id, b1.id])
    assert await seen("exec_s") == []
    alerts = {a.agent_id: a for a in await _alerts(loop)}
    with pytest.raises(DomainError) as raised:  # another team's alert: not found
        async with transaction(loop.state.sessions) as session:
            await acknowledge_alert(session, viewers["manager_a"], alerts[b1.id].id, now=NOW)
    assert raised.value.code == "not_found"
    for _ in range(2):  # a retry counts once
        async with transaction(loop.state.sessions) as session:
            acked = await acknowledge_alert(
                session, viewers["manager_a"], alerts[a1.id].id, now=NOW
            )
    assert acked.state == "acknowledged" and acked.acknowledged_at == NOW
    assert acked.acknowledged_by_id == world.users["manager_a"].id
    with pytest.raises(DomainError) as raised:
        async with transaction(loop.state.sessions) as session:
            await snooze_alert(
                session, viewers["rep_a1"], acked.id, until=NOW - dt.timedelta(hours=1), now=NOW
            )
    assert raised.value.field == "until"
    until = NOW + dt.timedelta(hours=4)
    async with transaction(loop.state.sessions) as session:
        snoozed = await snooze_alert(session, viewers["rep_a1"], acked.id, until=until, now=NOW)
    assert snoozed.snoozed_until == until and snoozed.snoozed_by_id == world.users["rep_a1"].id
    async with transaction(loop.state.sessions) as session:
        done = await resolve_alert(session, viewers["exec_n"], acked.id, now=NOW)
    assert (done.state, done.resolved_by_id) == ("resolved", world.users["exec_n"].id)
