"""What the delivery outboxes share (alert e-mails, partner webhooks, reports): the retry
policy and the claim of due rows by one worker. Each outbox's table has ``id``, ``status`` (its
pending value ``"pending"``), ``attempts`` and ``next_attempt_at``."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.database import is_postgresql

PENDING = "pending"
MAX_ATTEMPTS = 8  # 1 + 2 + 4 + ... minutes: the last try a few hours after the first
FIRST_BACKOFF = dt.timedelta(minutes=1)
MAX_BACKOFF = dt.timedelta(hours=1)
# A claimed row is not due again for this long: a worker that died while sending leaves it to
# be retried then (at least once), never sent twice by two live workers.
LEASE = dt.timedelta(minutes=5)

Row = TypeVar("Row")


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failure: 1, 2, 4 ... minutes, at most an hour."""
    return min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


async def claim_due(
    session: AsyncSession,
    model: type[Row],
    *,
    now: dt.datetime,
    limit: int = 50,
    where: tuple[Any, ...] = (),
) -> list[Row]:
    """Take the due pending rows of ``model`` (and of the further conditions ``where``) for this
    worker: each counts an attempt and is leased (not due for `LEASE`), so another worker
    claiming at once takes other rows. On PostgreSQL the candidates are locked with SKIP LOCKED;
    everywhere the lease is one guarded UPDATE."""
    table: Any = model
    due = (table.status == PENDING, table.next_attempt_at <= now, *where)
    candidates = select(table.id).where(*due).order_by(table.next_attempt_at, table.id).limit(limit)
    if is_postgresql(session):
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(await session.scalars(candidates))
    if not ids:
        return []
    claimed = await session.scalars(
        update(table)
        .where(table.id.in_(ids), *due)
        .values(attempts=table.attempts + 1, next_attempt_at=now + LEASE)
        .returning(table.id)
    )
    rows = await session.scalars(
        select(table)
        .where(table.id.in_(sorted(claimed)))
        .order_by(table.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)
