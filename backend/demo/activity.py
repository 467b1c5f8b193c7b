"""One agent's simulated activity inserted in bulk: contacts, deals, threads, messages, actions,
signals, outcomes and their label audit, linked by the ids the database assigns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from backend.actions.models import AgentAction
from backend.crm.models import Contact, Conversation, Deal, Message
from backend.database import Base
from backend.demo.outcome_rows import CALIBRATING, DELIVERY, label_rows, outcome_rows, signal_rows
from backend.demo.outcomes import CLICKED, OPENED, Outcomes, simulate_outcomes
from backend.demo.people import OrgPeople, Rep
from backend.demo.planted import confidence_drift, reply_drop
from backend.demo.rows import ActivityRows
from backend.demo.simulation import Actions, simulate_actions, simulate_book
from backend.demo.writer import BulkWriter
from backend.outcomes.models import Outcome, OutcomeLabel
from backend.signals.models import Signal


@dataclass(frozen=True, slots=True)
class AgentActivity:
    """What later steps (feedback, calibration) need to know of one agent's inserted activity."""

    rep: Rep
    actions: Actions
    outcomes: Outcomes  # the calibrating outcome of every action
    action_ids: NDArray[np.int64]
    message_ids: NDArray[np.int64]  # per action: its outbound message, -1 for none
    conversation_ids: NDArray[np.int64]  # per thread


async def insert_activity(
    writer: BulkWriter,
    org: OrgPeople,
    rep: Rep,
    rng: np.random.Generator,
    *,
    n_actions: int,
    start_s: int,
    now_s: int,
    taken_emails: set[str],
) -> AgentActivity:
    """Simulate ``n_actions`` of ``rep``'s agent and insert everything they touch."""
    book = simulate_book(
        rng, n_actions=n_actions, start_s=start_s, deal_median=rep.team.median_deal
    )
    lift = rep.team.reply_lift + rng.normal(0.0, 0.15)  # some agents write better than others
    slug = org.plan.slug
    actions = simulate_actions(
        rng,
        book,
        n=n_actions,
        start_s=start_s,
        reply_lift=lift,
        reply_drop=reply_drop(slug, rep.team.name, now_s=now_s),
        confidence_drift=confidence_drift(slug, rep.number, now_s=now_s),
    )
    outcomes, delivery, events = simulate_outcomes(rng, actions, now_s=now_s)
    rows = ActivityRows(org, rep, book, actions, events, start_s)

    async def ids(model: type[Base], table: list[dict[str, Any]], *key: str) -> NDArray[np.int64]:
        return np.array(await writer.insert_returning_ids(model, table, key=key), dtype=np.int64)

    contact_ids = await ids(Contact, rows.contacts(taken_emails), "email")
    deal_ids = await ids(Deal, rows.deals(contact_ids), "external_id")
    conversation_ids = await ids(
        Conversation, rows.conversations(contact_ids, deal_ids), "external_thread_id"
    )
    sent = actions.is_message
    stored = await ids(Message, rows.messages(conversation_ids), "external_message_id")
    message_ids = np.full(n_actions, -1, dtype=np.int64)
    message_ids[sent] = stored[: int(sent.sum())]
    action_ids = await ids(
        AgentAction, rows.agent_actions(deal_ids, conversation_ids, message_ids), "idempotency_key"
    )
    signal_ids = await ids(
        Signal, signal_rows(rows, deal_ids, conversation_ids, message_ids), "external_id"
    )
    signal_of = {
        (i, k): s
        for i, k, s in zip(
            events.action.tolist(), events.kind.tolist(), signal_ids.tolist(), strict=True
        )
    }
    # Opens and clicks are weak evidence on the reply outcome, counted but never resolving it.
    opens = np.bincount(events.action[events.kind == OPENED], minlength=n_actions)
    clicks = np.bincount(events.action[events.kind == CLICKED], minlength=n_actions)
    evidence = [
        {k: v for k, v in (("opens", o), ("clicks", c)) if v}
        for o, c in zip(opens.tolist(), clicks.tolist(), strict=True)
    ]
    table = outcome_rows(rows, outcomes, CALIBRATING, action_ids, signal_of, evidence)
    table += outcome_rows(rows, delivery, DELIVERY, action_ids, signal_of)
    outcome_ids = await writer.insert_returning_ids(
        Outcome, table, key=("action_id", "outcome_type")
    )
    await writer.insert(OutcomeLabel, label_rows(rows, outcomes, outcome_ids[:n_actions]))
    return AgentActivity(rep, actions, outcomes, action_ids, message_ids, conversation_ids)
