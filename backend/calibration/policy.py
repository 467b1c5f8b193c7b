"""Agent policies: the thresholds in force, decisions from them, and every change audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.policy import PolicyTarget, PolicyThresholds
from backend.actions.models import Decision
from backend.calibration.models import AgentPolicy, PolicyChange
from backend.database import dialect_insert, utcnow
from backend.errors import DomainError, ErrorCode
from backend.events.service import record_event

DEFAULT_THRESHOLDS = PolicyThresholds(escalate_below=0.35, autonomous_above=0.75)


def policy_target(config: dict[str, Any] | None) -> PolicyTarget:
    """The organisation's policy target (`config["policy_target"]`), else the defaults."""
    overrides = (config or {}).get("policy_target") or {}
    try:
        return PolicyTarget(**overrides)
    except TypeError as exc:
        raise DomainError(ErrorCode.INVALID, str(exc), field="policy_target") from None


def decide(policy: AgentPolicy, raw_confidence: float) -> Decision:
    """Escalate below the escalation threshold, act at or above the autonomy threshold, and
    act with a human review in between."""
    if raw_confidence < policy.escalate_below:
        return Decision.ESCALATE
    if raw_confidence >= policy.autonomous_above:
        return Decision.ACT
    return Decision.REVIEW


async def get_or_create_policy(
    session: AsyncSession, *, organization_id: int, agent_id: int, action_type: str
) -> AgentPolicy:
    """The policy of an agent for an action type, created with the defaults on first use (once,
    even when two writers race: the insert does nothing on conflict)."""
    insert = dialect_insert(session, AgentPolicy)
    created = await session.execute(
        insert.values(
            organization_id=organization_id,
            agent_id=agent_id,
            action_type=action_type,
            escalate_below=DEFAULT_THRESHOLDS.escalate_below,
            autonomous_above=DEFAULT_THRESHOLDS.autonomous_above,
            frozen=False,
            recalibration={},
            version=1,
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["agent_id", "action_type"])
        .returning(AgentPolicy.id)
    )
    new_id = created.scalar_one_or_none()
    if new_id is not None:
        session.add(
            PolicyChange(
                organization_id=organization_id,
                policy_id=new_id,
                agent_id=agent_id,
                action_type=action_type,
                version=1,
                escalate_below=DEFAULT_THRESHOLDS.escalate_below,
                autonomous_above=DEFAULT_THRESHOLDS.autonomous_above,
                reason="initial policy (defaults)",
                changed_by="system",
            )
        )
    policy = await session.scalar(
        select(AgentPolicy).where(
            AgentPolicy.agent_id == agent_id, AgentPolicy.action_type == action_type
        )
    )
    assert policy is not None
    return policy


async def change_policy(
    session: AsyncSession,
    policy: AgentPolicy,
    *,
    thresholds: PolicyThresholds,
    reason: str,
    evidence: dict[str, Any] | None = None,
    changed_by_user_id: int | None = None,
    frozen: bool | None = None,
    recalibration: dict[str, Any] | None = None,
) -> PolicyChange:
    """Move a policy (optimistic lock on its version), write the audit row, queue the event."""
    previous = (policy.escalate_below, policy.autonomous_above)
    policy.escalate_below = thresholds.escalate_below
    policy.autonomous_above = thresholds.autonomous_above
    if frozen is not None:
        policy.frozen = frozen
    if recalibration is not None:
        policy.recalibration = recalibration
    policy.updated_at = utcnow()
    await session.flush()  # bumps the version; a concurrent change raises StaleDataError
    change = PolicyChange(
        organization_id=policy.organization_id,
        policy_id=policy.id,
        agent_id=policy.agent_id,
        action_type=policy.action_type,
        version=policy.version,
        previous_escalate_below=previous[0],
        previous_autonomous_above=previous[1],
        escalate_below=thresholds.escalate_below,
        autonomous_above=thresholds.autonomous_above,
        reason=reason[:1000],
        evidence=evidence or {},
        changed_by="user" if changed_by_user_id else "system",
        changed_by_user_id=changed_by_user_id,
    )
    session.add(change)
    await record_event(
        session,
        name="policy.changed",
        organization_id=policy.organization_id,
        stream=f"policy:agent:{policy.agent_id}:{policy.action_type}",
        data={
            "agentId": policy.agent_id,
            "actionType": policy.action_type,
            "policyVersion": policy.version,
            "escalateBelow": thresholds.escalate_below,
            "autonomousAbove": thresholds.autonomous_above,
            "frozen": policy.frozen,
            "changedBy": change.changed_by,
        },
    )
    return change
