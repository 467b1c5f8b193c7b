"""Use cases of agent policies: the defaults per action type and the decision a policy takes,
get-or-create, every change audited (with its `policy.changed` event), the moves the
evidence of matured outcomes calls for (each threshold's dead band), freeze and rollback by a
person."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.policy import (
    PolicyEvidence,
    PolicyStep,
    PolicyTarget,
    PolicyThresholds,
    follow_evidence,
)
from analytics_engine.policy_band import BandMove
from backend.actions.models import Decision
from backend.database import dialect_insert, utcnow
from backend.errors import DomainError, ErrorCode, NotFoundError
from backend.events.service import record_event
from backend.orgs.models import Organization
from backend.policy import wording
from backend.policy.models import AgentPolicy, PolicyChange, ThresholdEvidence
from backend.viewer import Viewer, ViewerRole, scoped


@dataclass(frozen=True)
class PolicyDefaults:
    """Where a new policy starts, and what its automatic adjustments aim for."""

    thresholds: PolicyThresholds
    target: PolicyTarget


# Confidence means "this action will succeed", and success rates differ by nature between action
# types (an email's reply is a ~10 % event, a well-chosen escalation a ~70 % one), so thresholds
# and targets are per action type. Organisations override them in config["policy"][type].
_LIKELY = PolicyDefaults(PolicyThresholds(0.35, 0.75), PolicyTarget())
_RARE = PolicyDefaults(  # e-mail and follow-ups: success is a reply, a ~10 % event
    PolicyThresholds(0.02, 0.05),
    PolicyTarget(
        autonomous_min_success=0.05,
        escalate_max_success=0.02,
        min_threshold=0.005,
        max_threshold=0.5,
        step=0.01,
        margin=0.01,
        width=0.02,
    ),
)
DEFAULT_POLICIES: Mapping[str, PolicyDefaults] = {
    "email": _RARE,
    "follow_up": _RARE,
    "meeting": PolicyDefaults(PolicyThresholds(0.3, 0.6), PolicyTarget(autonomous_min_success=0.6)),
    "escalation": _LIKELY,
    "stage_progression": _LIKELY,
}


def policy_defaults(action_type: str, config: Mapping[str, Any] | None) -> PolicyDefaults:
    """The defaults for an action type, with the organisation's overrides, e.g.
    ``{"policy": {"email": {"escalate_below": 0.01, "target": {"step": 0.005}}}}``."""
    base = DEFAULT_POLICIES.get(action_type, _LIKELY)
    override = ((config or {}).get("policy") or {}).get(action_type) or {}
    try:
        thresholds = PolicyThresholds(
            float(override.get("escalate_below", base.thresholds.escalate_below)),
            float(override.get("autonomous_above", base.thresholds.autonomous_above)),
        )
        target = replace(base.target, **(override.get("target") or {}))
    except (TypeError, ValueError) as exc:
        raise DomainError(
            ErrorCode.INVALID, f"policy.{action_type}: {exc}", field="config.policy"
        ) from None
    return PolicyDefaults(thresholds, target)


def decide(policy: AgentPolicy | PolicyThresholds, raw_confidence: float) -> Decision:
    """Escalate below the escalation threshold, act at or above the autonomy threshold, and
    act with a human review in between."""
    if raw_confidence < policy.escalate_below:
        return Decision.ESCALATE
    if raw_confidence >= policy.autonomous_above:
        return Decision.ACT
    return Decision.REVIEW


async def _find(session: AsyncSession, agent_id: int, action_type: str) -> AgentPolicy | None:
    return await session.scalar(
        select(AgentPolicy).where(
            AgentPolicy.agent_id == agent_id, AgentPolicy.action_type == action_type
        )
    )


async def get_or_create_policy(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_id: int,
    action_type: str,
    now: dt.datetime | None = None,
) -> AgentPolicy:
    """The policy of an agent for an action type, created with the defaults on first use (once,
    even when two writers race: the insert does nothing on conflict), stamped ``now`` (default:
    the clock)."""
    policy = await _find(session, agent_id, action_type)
    if policy is not None:
        return policy
    config = await session.scalar(
        select(Organization.config).where(Organization.id == organization_id)
    )
    defaults = policy_defaults(action_type, config).thresholds
    insert = dialect_insert(session, AgentPolicy)
    created = await session.execute(
        insert.values(
            organization_id=organization_id,
            agent_id=agent_id,
            action_type=action_type,
            escalate_below=defaults.escalate_below,
            autonomous_above=defaults.autonomous_above,
            frozen=False,
            version=1,
            updated_at=now or utcnow(),
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
                escalate_below=defaults.escalate_below,
                autonomous_above=defaults.autonomous_above,
                reason=wording.INITIAL_REASON,
                changed_by="system",
                created_at=now or utcnow(),
            )
        )
    policy = await _find(session, agent_id, action_type)
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
    now: dt.datetime | None = None,
) -> PolicyChange:
    """Move a policy (optimistic lock on its version), write the audit row, queue the event;
    both stamped ``now`` (default: the clock)."""
    now = now or utcnow()
    previous = (policy.escalate_below, policy.autonomous_above)
    policy.escalate_below = thresholds.escalate_below
    policy.autonomous_above = thresholds.autonomous_above
    if frozen is not None:
        policy.frozen = frozen
    policy.updated_at = now
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
        created_at=now,
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


async def evidence_through(
    session: AsyncSession, *, agent_ids: Iterable[int], action_type: str
) -> dict[int, dt.date | None]:
    """The last day whose outcomes each agent's ``action_type`` policy has been fed (agents
    never fed are absent)."""
    rows = await session.execute(
        select(ThresholdEvidence.agent_id, ThresholdEvidence.through).where(
            ThresholdEvidence.agent_id.in_(list(agent_ids)),
            ThresholdEvidence.action_type == action_type,
        )
    )
    return {agent_id: through for agent_id, through in rows}


def _rule_evidence(target: PolicyTarget, step: PolicyStep) -> dict[str, Any]:
    def moves(found: tuple[BandMove, ...]) -> list[dict[str, Any]]:
        return [
            {
                "direction": m.direction,
                "before": m.before,
                "after": m.after,
                "eValue": round(m.e_value, 3),
                "outcomes": m.seen,
                "reversal": m.reversal,
            }
            for m in found
        ]

    return {
        "rule": "dead_band",
        "escalateMaxSuccess": target.escalate_max_success,
        "autonomousMinSuccess": target.autonomous_min_success,
        "margin": target.margin,
        "width": target.width,
        "alpha": target.alpha,
        "escalation": moves(step.escalation),
        "autonomy": moves(step.autonomy),
    }


async def follow_outcomes(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_id: int,
    action_type: str,
    p: Sequence[float],
    y: Sequence[float],
    through: dt.date,
    config: Mapping[str, Any] | None,
    now: dt.datetime | None = None,
) -> PolicyChange | None:
    """Feed the agent's policy the decided outcomes (``p``, ``y``) of its actions on the
    matured days up to ``through``, in the order the actions were taken: each threshold
    follows its dead band (``analytics_engine.policy.follow_evidence``) towards the action
    type's targets (``config`` overriding them), and a move is a new version, audited with its
    e-values. The evidence is kept between calls (``ThresholdEvidence``); a threshold a person
    moved starts its evidence afresh, and a frozen policy gathers none. Returns the change, if
    any, stamped ``now`` (default: the clock)."""
    policy = await get_or_create_policy(
        session,
        organization_id=organization_id,
        agent_id=agent_id,
        action_type=action_type,
        now=now,
    )
    record = await session.scalar(
        select(ThresholdEvidence).where(ThresholdEvidence.policy_id == policy.id)
    )
    if record is None:
        record = ThresholdEvidence(
            organization_id=organization_id,
            policy_id=policy.id,
            agent_id=agent_id,
            action_type=action_type,
            state={},
        )
        session.add(record)
    current = PolicyThresholds(policy.escalate_below, policy.autonomous_above)
    record.through = through
    record.updated_at = now or utcnow()
    if policy.frozen:  # a person holds it: nothing is gathered against their choice
        record.state = PolicyEvidence.start(current).to_dict()
        return None
    target = policy_defaults(action_type, config).target
    known = PolicyEvidence.from_dict(record.state) if record.state else None
    step = follow_evidence(current, known, p, y, target)
    record.state = step.evidence.to_dict()
    if not step.changed:
        return None
    return await change_policy(
        session,
        policy,
        thresholds=step.thresholds,
        reason=wording.evidence_reason(step, target, action_type=action_type, agent_id=agent_id),
        evidence=_rule_evidence(target, step),
        now=now,
    )


async def _policy_in_scope(
    session: AsyncSession, viewer: Viewer, *, agent_id: int, action_type: str
) -> AgentPolicy:
    policy = await session.scalar(
        scoped(select(AgentPolicy), AgentPolicy, viewer).where(
            AgentPolicy.agent_id == agent_id, AgentPolicy.action_type == action_type
        )
    )
    if policy is None:
        raise NotFoundError("policy", field="agentId")
    return policy


def _require_policy_editor(viewer: Viewer) -> None:
    viewer.require_role(ViewerRole.MANAGER, ViewerRole.EXECUTIVE, ViewerRole.ADMIN)


async def freeze_policy(
    session: AsyncSession,
    viewer: Viewer,
    *,
    agent_id: int,
    action_type: str,
    frozen: bool,
    reason: str,
) -> AgentPolicy:
    """A manager pins (or releases) a policy; automation never moves a frozen policy."""
    _require_policy_editor(viewer)
    reason = reason.strip()
    if not reason:
        raise DomainError(ErrorCode.REQUIRED, "say why the policy is (un)frozen", field="reason")
    policy = await _policy_in_scope(session, viewer, agent_id=agent_id, action_type=action_type)
    if policy.frozen == frozen:
        return policy
    await change_policy(
        session,
        policy,
        thresholds=PolicyThresholds(policy.escalate_below, policy.autonomous_above),
        reason=wording.freeze_reason(frozen=frozen, why=reason),
        changed_by_user_id=viewer.user_id,
        frozen=frozen,
    )
    return policy


async def rollback_policy(
    session: AsyncSession,
    viewer: Viewer,
    *,
    agent_id: int,
    action_type: str,
    version: int,
    reason: str,
    freeze: bool = True,
) -> AgentPolicy:
    """Restore the thresholds of an earlier version (as a new version, audited). The policy is
    frozen by default, so automation does not undo the rollback at the next outcome."""
    _require_policy_editor(viewer)
    policy = await _policy_in_scope(session, viewer, agent_id=agent_id, action_type=action_type)
    target = await session.scalar(
        select(PolicyChange).where(
            PolicyChange.policy_id == policy.id, PolicyChange.version == version
        )
    )
    if target is None:
        raise NotFoundError(f"version {version} of the policy", field="version")
    await change_policy(
        session,
        policy,
        thresholds=PolicyThresholds(target.escalate_below, target.autonomous_above),
        reason=wording.rollback_reason(version=version, why=reason.strip()),
        changed_by_user_id=viewer.user_id,
        frozen=freeze,
    )
    return policy
