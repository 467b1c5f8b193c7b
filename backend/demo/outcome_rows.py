"""Row dicts of one agent's signals, outcomes and the audit of human labels.

Outcome types, windows, scales and the reasons a person is asked come from
``backend.outcomes.rules``, so the seeded outcomes read like the live service's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from backend.demo.outcomes import (
    DETECTIONS,
    LOST,
    MANAGER,
    MOVED_BACKWARDS,
    REP,
    REPLIED,
    RESOLVED,
    SENTIMENTS,
    SIGNAL_KINDS,
    SIGNAL_SOURCES,
    STAGE_CHANGED,
    STATUSES,
    USER_AGENTS,
    WON,
    Outcomes,
)
from backend.demo.rows import STAGES, ActivityRows, id_at, moment
from backend.demo.simulation import KINDS, MEETING
from backend.outcomes.rules import OutcomePlan, OutcomeRules
from backend.signals.engagement import is_machine

RULES = OutcomeRules()
CALIBRATING: tuple[OutcomePlan, ...] = tuple(RULES.calibrating_plan(kind.value) for kind in KINDS)
DELIVERY = next(p for p in RULES.plans_for("email") if p.outcome_type == "email_delivery")
# The rules' own words for why a person is asked (in outcomes.AMBIGUOUS_REPLY.. order).
LABEL_REASONS: tuple[str | None, ...] = (
    next(e.label_reason for e in RULES.effects("email.replied", {}) if e.label_reason),
    RULES.calibrating_plan("meeting").expiry.label_reason,
    RULES.calibrating_plan("escalation").expiry.label_reason,
    RULES.calibrating_plan("stage_progression").expiry.label_reason,
)


def signal_rows(
    activity: ActivityRows,
    deal_ids: NDArray[np.int64],
    conversation_ids: NDArray[np.int64],
    message_ids: NDArray[np.int64],
) -> list[dict[str, Any]]:
    a, e, b = activity.actions, activity.events, activity.book
    rows = []
    columns = zip(
        e.action.tolist(),
        e.kind.tolist(),
        e.occurred_s.tolist(),
        e.user_agent.tolist(),
        strict=True,
    )
    sent_s = a.occurred_s.tolist()
    for j, (i, k, t, ua) in enumerate(columns):
        payload: dict[str, Any] = {}
        machine = False
        if ua >= 0:  # an open or a click: what made it, judged by the live rules
            payload["user_agent"] = USER_AGENTS[ua]
            machine = is_machine(
                SIGNAL_KINDS[k].value,
                user_agent=USER_AGENTS[ua],
                seconds_after_delivery=t - sent_s[i],
            )
        if a.is_message[i]:
            payload["message_id"] = activity.message_id(i)
        if k == REPLIED:
            payload["reply_message_id"] = activity.reply_id(i)
            if (sentiment := SENTIMENTS[int(e.sentiment[i])]) is not None:
                payload["sentiment"] = sentiment
        elif a.kind[i] == MEETING:
            payload["starts_at"] = moment(int(e.meeting_s[i])).isoformat()
        elif k == STAGE_CHANGED:
            payload["from_stage"] = STAGES[int(e.from_stage[i])].value
            payload["to_stage"] = STAGES[int(e.to_stage[i])].value
        elif k in (WON, LOST):
            payload["amount"] = f"{b.deal_amount[a.deal[i]]:.2f}"
        source = SIGNAL_SOURCES[k]
        rows.append(
            {
                "organization_id": activity.org_id,
                "kind": SIGNAL_KINDS[k].value,
                "source": source,
                "external_id": f"{source[:3]}-{activity.prefix}-{j:07d}",
                "payload": payload,
                "agent_id": activity.rep.agent_id,
                "deal_id": id_at(deal_ids, int(a.deal[i])),
                "conversation_id": int(conversation_ids[a.conversation[i]]),
                "message_id": int(message_ids[i]) if message_ids[i] >= 0 else None,
                "matched": True,
                "machine": machine,
                "occurred_at": moment(t),
                "received_at": moment(t + 2),
            }
        )
    return rows


def outcome_rows(
    activity: ActivityRows,
    o: Outcomes,
    plan: OutcomePlan | tuple[OutcomePlan, ...],
    action_ids: NDArray[np.int64],
    signal_of: dict[tuple[int, int], int],
    evidence: list[dict[str, int]] | None = None,
) -> list[dict[str, Any]]:
    """Rows of outcomes ``o``; ``plan`` is one plan for all or one per action kind, ``evidence``
    the weak evidence (opens, clicks) per action."""
    a, rep = activity.actions, activity.rep
    labeller = {REP: rep.user_id, MANAGER: rep.manager_id}
    notes = evidence or [{}] * a.kind.size
    rows = []
    columns = zip(
        o.action.tolist(),
        o.status.tolist(),
        o.detection.tolist(),
        o.level.tolist(),
        o.value.tolist(),
        o.due_s.tolist(),
        o.resolved_s.tolist(),
        o.labelled_by.tolist(),
        o.signal.tolist(),
        o.label_reason.tolist(),
        strict=True,
    )
    for i, status, detection, level, value, due, resolved, by, k, reason in columns:
        p = plan if isinstance(plan, OutcomePlan) else plan[int(a.kind[i])]
        done = status == RESOLVED
        t = int(a.occurred_s[i])
        rows.append(
            {
                "organization_id": activity.org_id,
                "agent_id": rep.agent_id,
                "action_id": int(action_ids[i]),
                "action_type": KINDS[int(a.kind[i])].value,
                "outcome_type": p.outcome_type,
                "window": p.window.value,
                "scale": p.scale.name,
                "level": level if done else None,
                "value": value if done else None,
                "detection": DETECTIONS[detection].value,
                "status": STATUSES[status].value,
                "opened_at": moment(t),
                "due_at": moment(due),
                "resolved_at": moment(resolved) if done else None,
                "signal_id": signal_of[(i, k)] if k >= 0 else None,
                "resolved_by_id": labeller.get(by),
                "label_reason": LABEL_REASONS[reason] if reason >= 0 else None,
                "evidence": {"backward_moves": 1} if reason == MOVED_BACKWARDS else notes[i],
                "created_at": moment(t + 1),
            }
        )
    return rows


def label_rows(activity: ActivityRows, o: Outcomes, outcome_ids: list[int]) -> list[dict[str, Any]]:
    """The audit entry of every outcome a person labelled."""
    labeller = {REP: activity.rep.user_id, MANAGER: activity.rep.manager_id}
    columns = zip(
        outcome_ids,
        o.detection.tolist(),
        o.status.tolist(),
        o.level.tolist(),
        o.value.tolist(),
        o.resolved_s.tolist(),
        o.labelled_by.tolist(),
        o.asked_s.tolist(),
        strict=True,
    )
    return [
        {
            "organization_id": activity.org_id,
            "agent_id": activity.rep.agent_id,
            "outcome_id": outcome_id,
            "labeled_by_id": labeller[by],
            "api_client_id": None,
            "previous_status": "needs_label" if asked >= 0 else "open",
            "previous_level": None,
            "previous_value": None,
            "level": level,
            "value": value,
            "note": None,
            "created_at": moment(resolved),
        }
        for outcome_id, detection, status, level, value, resolved, by, asked in columns
        if status == RESOLVED and DETECTIONS[detection] == "human"
    ]
