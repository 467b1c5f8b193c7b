"""Forgetting sign-ins that ended long ago: sign-in links used or expired, and sessions expired
or revoked, more than the retention (SIGN_IN_RETENTION_DAYS) ago. Until then they stay, for
whoever asks who signed in when, from where; the rate limits need only the last minutes.

Deleted in batches (each its own transaction: no long lock, no huge statement), so a run may
stop anywhere and the next one goes on; deleting what is already gone deletes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.models import SignInLink, UserSession
from backend.unit_of_work import transaction

PURGE_BATCH = 1000  # rows per statement and transaction


async def _delete_batch(session: AsyncSession, model: Any, ended: Any, batch: int) -> int:
    ids = list(await session.scalars(select(model.id).where(ended).order_by(model.id).limit(batch)))
    if ids:
        await session.execute(delete(model).where(model.id.in_(ids)))
    return len(ids)


async def delete_ended_sessions(session: AsyncSession, *, before: dt.datetime, batch: int) -> int:
    """One batch of the sessions that expired or were revoked before ``before``."""
    ended = or_(UserSession.expires_at < before, UserSession.revoked_at < before)
    return await _delete_batch(session, UserSession, ended, batch)


async def delete_ended_links(session: AsyncSession, *, before: dt.datetime, batch: int) -> int:
    """One batch of the sign-in links used or expired before ``before`` (a session opened with
    one keeps living: its reference is set to null by the database)."""
    ended = or_(SignInLink.used_at < before, SignInLink.expires_at < before)
    return await _delete_batch(session, SignInLink, ended, batch)


async def purge_ended_sign_ins(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: dt.datetime,
    retention: dt.timedelta,
    batch: int = PURGE_BATCH,
) -> int:
    """Delete the sessions, then the links, that ended more than ``retention`` before ``now``,
    ``batch`` rows per transaction; how many rows were deleted."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    before = now - retention
    deleted = 0
    steps: tuple[Callable[..., Awaitable[int]], ...] = (delete_ended_sessions, delete_ended_links)
    for step in steps:
        while True:
            async with transaction(sessions) as session:
                count = await step(session, before=before, batch=batch)
            deleted += count
            if count < batch:
                break
    return deleted
