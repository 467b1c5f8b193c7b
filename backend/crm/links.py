"""Finding (or creating) the deal, thread and message an action refers to by provider ids.

The agent knows the provider's ids (CRM deal id, mail thread id, Message-ID); signals from
providers carry the same ids, which is how a reply finds the email it answers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.crm.models import Conversation, Deal, Message
from backend.database import OrganizationRow, dialect_insert


@dataclass(frozen=True)
class Links:
    deal_id: int | None = None
    conversation_id: int | None = None
    message_id: int | None = None


async def _get_or_insert(
    session: AsyncSession, model: type[OrganizationRow], key: dict[str, Any], values: dict[str, Any]
) -> int:
    """Insert unless a row with ``key`` exists (racing writers create it once); return its id."""
    insert = dialect_insert(session, model)
    await session.execute(
        insert.values(**key, **values).on_conflict_do_nothing(index_elements=list(key))
    )
    statement = select(model.id)
    for column, value in key.items():
        statement = statement.where(getattr(model, column) == value)
    return int((await session.execute(statement)).scalar_one())


async def resolve_links(
    session: AsyncSession,
    *,
    agent: Agent,
    deal_external_id: str | None,
    thread_external_id: str | None,
    message_external_id: str | None,
    subject: str | None,
    sent_at: dt.datetime,
) -> Links:
    org = agent.organization_id
    deal_id = conversation_id = message_id = None
    if deal_external_id:
        deal_id = await _get_or_insert(
            session,
            Deal,
            {"organization_id": org, "external_id": deal_external_id},
            {
                "name": deal_external_id,
                "owner_id": agent.owner_id,
                "agent_id": agent.id,
                "stage": "prospecting",
                "amount": 0,
                "currency": "USD",
                "created_at": sent_at,
                "updated_at": sent_at,
            },
        )
    if thread_external_id or message_external_id:
        thread = thread_external_id or f"message:{message_external_id}"
        conversation_id = await _get_or_insert(
            session,
            Conversation,
            {"organization_id": org, "external_thread_id": thread},
            {
                "agent_id": agent.id,
                "deal_id": deal_id,
                "channel": "email",
                "subject": subject,
                "created_at": sent_at,
            },
        )
    if message_external_id:
        message_id = await _get_or_insert(
            session,
            Message,
            {"organization_id": org, "external_message_id": message_external_id},
            {
                "agent_id": agent.id,
                "conversation_id": conversation_id,
                "direction": "outbound",
                "subject": subject,
                "sent_at": sent_at,
            },
        )
    return Links(deal_id=deal_id, conversation_id=conversation_id, message_id=message_id)
