"""Row dicts of one agent's CRM book, messages and actions, ready for bulk insert.

The rows hold plain Python values (never numpy scalars, which asyncpg refuses)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray

from backend.crm.models import DealStage, MessageDirection
from backend.demo import phrases
from backend.demo.outcomes import (
    LOST,
    STAGE_CHANGED,
    Events,
)
from backend.demo.people import OrgPeople, Rep
from backend.demo.simulation import (
    DAY,
    ESCALATION,
    FOLLOW_UP,
    HOUR_BUCKETS,
    KINDS,
    LENGTH_BUCKETS,
    MEETING,
    STAGE,
    STAGE_COUNT,
    WEEKDAYS,
    Actions,
    Book,
)
from backend.policy.service import decide, policy_defaults

STAGES = tuple(DealStage)


def moment(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def decide_by_default(action_type: str, confidence: float) -> str:
    return decide(policy_defaults(action_type, None).thresholds, confidence).value


def id_at(ids: NDArray[np.int64], index: int) -> int | None:
    """The database id of local row ``index`` (-1: none)."""
    return int(ids[index]) if index >= 0 else None


class ActivityRows:
    """Builds the rows of one agent's book (contacts, deals, threads), messages and actions."""

    def __init__(
        self, org: OrgPeople, rep: Rep, book: Book, actions: Actions, events: Events, start_s: int
    ) -> None:
        self.org_id, self.slug, self.rep = org.organization_id, org.plan.slug, rep
        self.book, self.actions, self.events, self.start_s = book, actions, events, start_s
        self.prefix = f"{self.slug}-{rep.number:02d}"
        accounts = list(zip(book.account_stem.tolist(), book.account_suffix.tolist(), strict=True))
        stems, suffixes = phrases.COMPANY_STEMS, phrases.COMPANY_SUFFIXES
        self.company = [f"{stems[a]} {suffixes[b]}" for a, b in accounts]
        self.domain = [f"{stems[a]}{suffixes[b]}.example".lower() for a, b in accounts]
        names = phrases.FIRST_NAMES, phrases.LAST_NAMES
        self.first = [names[0][i % len(names[0])] for i in book.contact_first.tolist()]
        self.last = [names[1][i % len(names[1])] for i in book.contact_last.tolist()]
        # Every action's contact, and the contact's account.
        self.contact = book.conversation_contact[actions.conversation].tolist()
        self.account = book.contact_account[self.contact].tolist()
        thread_account = book.contact_account[book.conversation_contact].tolist()
        self.subject = [
            phrases.SUBJECTS[s % len(phrases.SUBJECTS)].format(
                company=self.company[a], quarter=s % 4 + 1
            )
            for s, a in zip(book.conversation_subject.tolist(), thread_account, strict=True)
        ]

    def contacts(self, taken: set[str]) -> list[dict[str, Any]]:
        """Contacts, with e-mail addresses made unique within the organisation (``taken``)."""
        rows = []
        book = self.book
        for i, (a, persona) in enumerate(
            zip(book.contact_account.tolist(), book.contact_persona.tolist(), strict=True)
        ):
            local, domain, k = f"{self.first[i]}.{self.last[i]}".lower(), self.domain[a], 1
            email = f"{local}@{domain}"
            while email in taken:
                k += 1
                email = f"{local}{k}@{domain}"
            taken.add(email)
            rows.append(
                {
                    "organization_id": self.org_id,
                    "email": email,
                    "name": f"{self.first[i]} {self.last[i]}",
                    "company": self.company[a],
                    "persona": phrases.PERSONAS[persona],
                    "created_at": moment(self.start_s - (i % 60) * DAY),
                }
            )
        return rows

    def deals(self, contact_ids: NDArray[np.int64]) -> list[dict[str, Any]]:
        """Deals, at the stage their last stage change took them (a closed deal stays closed)."""
        b, e = self.book, self.events
        stage = (b.deal_stage % STAGE_COUNT).tolist()  # where each deal stood at the start
        updated = b.deal_updated_s.tolist()
        moves = np.flatnonzero(np.isin(e.kind, (STAGE_CHANGED, LOST)))  # in time order
        for action, t in zip(e.action[moves].tolist(), e.occurred_s[moves].tolist(), strict=True):
            d = int(self.actions.deal[action])
            if stage[d] < STAGE_COUNT:
                stage[d], updated[d] = int(e.to_stage[action]), max(updated[d], t)
        products = phrases.PRODUCTS
        return [
            {
                "organization_id": self.org_id,
                "external_id": f"CRM-{self.prefix}-{j:04d}",
                "name": f"{self.company[a]} — {products[j % len(products)]}",
                "stage": STAGES[s].value,
                "amount": Decimal(f"{amount:.2f}"),
                "currency": "USD",
                "owner_id": self.rep.user_id,
                "agent_id": self.rep.agent_id,
                "contact_id": int(contact_ids[c]),
                "created_at": moment(created),
                "updated_at": moment(max(created, last)),
            }
            for j, (a, c, s, amount, created, last) in enumerate(
                zip(
                    b.deal_account.tolist(),
                    b.deal_contact.tolist(),
                    stage,
                    b.deal_amount.tolist(),
                    b.deal_created_s.tolist(),
                    updated,
                    strict=True,
                )
            )
        ]

    def conversations(
        self, contact_ids: NDArray[np.int64], deal_ids: NDArray[np.int64]
    ) -> list[dict[str, Any]]:
        b = self.book
        first = np.full(b.conversation_deal.size, self.start_s + 89 * DAY, dtype=np.int64)
        np.minimum.at(first, self.actions.conversation, self.actions.occurred_s)
        return [
            {
                "organization_id": self.org_id,
                "agent_id": self.rep.agent_id,
                "deal_id": id_at(deal_ids, d),
                "contact_id": int(contact_ids[c]),
                "channel": "email",
                "subject": self.subject[k],
                "external_thread_id": f"thr-{self.prefix}-{k:05d}",
                "created_at": moment(t),
            }
            for k, (c, d, t) in enumerate(
                zip(
                    b.conversation_contact.tolist(),
                    b.conversation_deal.tolist(),
                    first.tolist(),
                    strict=True,
                )
            )
        ]

    def message_id(self, i: int) -> str:
        return f"<{self.prefix}-{i:06d}@mail.{self.slug}.example>"

    def reply_id(self, i: int) -> str:
        return f"<re-{self.prefix}-{i:06d}@{self.domain[self.account[i]]}>"

    def messages(self, conversation_ids: NDArray[np.int64]) -> list[dict[str, Any]]:
        """Outbound messages of the e-mail actions, then the replies received, in action order."""
        a, e = self.actions, self.events
        conversation = a.conversation.tolist()
        rows = []
        for i in np.flatnonzero(a.is_message).tolist():
            opener = phrases.EMAIL_OPENERS[i % len(phrases.EMAIL_OPENERS)]
            body = opener.format(
                first=self.first[self.contact[i]], company=self.company[self.account[i]]
            )
            if a.has_question[i]:
                body += phrases.EMAIL_QUESTIONS[i % len(phrases.EMAIL_QUESTIONS)]
            subject = self.subject[conversation[i]]
            if a.kind[i] == FOLLOW_UP:
                subject = f"Re: {subject}"
            rows.append(
                self._message(
                    conversation_ids[conversation[i]],
                    MessageDirection.OUTBOUND,
                    self.message_id(i),
                    subject,
                    body,
                    int(a.occurred_s[i]),
                )
            )
        for i in np.flatnonzero(e.reply_s >= 0).tolist():
            previews = phrases.REPLY_PREVIEWS[int(e.sentiment[i])]
            preview = previews[i % len(previews)].format(quarter=i % 4 + 1)
            rows.append(
                self._message(
                    conversation_ids[conversation[i]],
                    MessageDirection.INBOUND,
                    self.reply_id(i),
                    f"Re: {self.subject[conversation[i]]}",
                    preview,
                    int(e.reply_s[i]),
                )
            )
        return rows

    def _message(
        self,
        conversation_id: Any,
        direction: MessageDirection,
        external_id: str,
        subject: str,
        body: str,
        sent_s: int,
    ) -> dict[str, Any]:
        return {
            "organization_id": self.org_id,
            "agent_id": self.rep.agent_id,
            "conversation_id": int(conversation_id),
            "direction": direction.value,
            "external_message_id": external_id,
            "subject": subject,
            "body_preview": body,
            "sent_at": moment(sent_s),
        }

    def agent_actions(
        self,
        deal_ids: NDArray[np.int64],
        conversation_ids: NDArray[np.int64],
        message_ids: NDArray[np.int64],
    ) -> list[dict[str, Any]]:
        a = self.actions
        columns = zip(
            a.kind.tolist(),
            a.confidence.tolist(),
            a.cost.tolist(),
            a.tokens.tolist(),
            a.deal.tolist(),
            a.conversation.tolist(),
            message_ids.tolist(),
            a.occurred_s.tolist(),
            self._details(),
            strict=True,
        )
        return [
            {
                "organization_id": self.org_id,
                "agent_id": self.rep.agent_id,
                "action_type": KINDS[kind].value,
                "confidence": p,
                # The policy in force then: the defaults (no calibration had moved it yet).
                "calibrated_confidence": p,
                "decision": decide_by_default(KINDS[kind].value, p),
                "is_critical": KINDS[kind].is_critical,
                "cost_amount": Decimal(f"{cost:.6f}"),
                "cost_currency": "USD",
                "cost_tokens": tokens,
                "deal_id": id_at(deal_ids, d),
                "conversation_id": int(conversation_ids[c]),
                "message_id": m if m >= 0 else None,
                "idempotency_key": f"{self.prefix}-{i:06d}",
                "details": details,
                "occurred_at": moment(t),
                "created_at": moment(t + 1),
            }
            for i, (kind, p, cost, tokens, d, c, m, t, details) in enumerate(columns)
        ]

    def _details(self) -> list[dict[str, Any]]:
        """The features coaching mines, as the agent reported them with each action."""
        a, e = self.actions, self.events
        columns = zip(
            a.kind.tolist(),
            a.hour.tolist(),
            a.hour_bucket.tolist(),
            a.weekday.tolist(),
            a.persona.tolist(),
            a.length.tolist(),
            a.words.tolist(),
            a.has_question.tolist(),
            a.personalised.tolist(),
            a.lead_days.tolist(),
            a.detail_choice.tolist(),
            e.from_stage.tolist(),
            strict=True,
        )
        out = []
        for (
            kind,
            hour,
            bucket,
            day,
            persona,
            length,
            words,
            question,
            personal,
            lead,
            choice,
            stage,
        ) in columns:
            details: dict[str, Any] = {
                "hour": hour,
                "hour_bucket": HOUR_BUCKETS[bucket],
                "weekday": WEEKDAYS[day],
                "is_weekend": day >= 5,
                "persona": phrases.PERSONAS[persona],
            }
            if kind == MEETING:
                details["meeting_kind"] = phrases.MEETING_KINDS[choice % 4]
                details["lead_days"] = lead
            elif kind == ESCALATION:
                details["reason"] = phrases.ESCALATION_REASONS[choice % 5]
            elif kind == STAGE:
                details["from_stage"] = STAGES[stage].value
                details["to_stage"] = STAGES[stage + 1].value
            else:
                details["length_bucket"] = LENGTH_BUCKETS[length]
                details["word_count"] = words
                details["has_question"] = question
                details["personalized"] = personal
            out.append(details)
        return out
