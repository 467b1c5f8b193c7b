"""Sign-in links and sessions that ended more than the retention ago are deleted by the worker,
in batches, on both databases; what ended since, and what still lives, stays; a second run
deletes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from backend.auth.models import SignInLink, UserSession
from backend.auth.retention import purge_ended_sign_ins
from backend.auth.tokens import hash_token
from backend.unit_of_work import transaction
from backend.worker import JOBS, run_jobs_once
from tests.backend.conftest import Loop
from tests.factories import NOW

DAY = dt.timedelta(days=1)
RETENTION = 30 * DAY  # the default of SIGN_IN_RETENTION_DAYS
LINK_TTL = dt.timedelta(minutes=15)


def _link(user, name: str, *, created: dt.datetime, used: bool) -> SignInLink:
    return SignInLink(
        organization_id=user.organization_id,
        user_id=user.id,
        token_hash=hash_token(name),
        created_at=created,
        expires_at=created + LINK_TTL,
        used_at=created + dt.timedelta(minutes=1) if used else None,
    )


def _session(
    user, name: str, *, created: dt.datetime, ttl: dt.timedelta, revoked: dt.datetime | None = None
) -> UserSession:
    return UserSession(
        organization_id=user.organization_id,
        user_id=user.id,
        token_hash=hash_token(name),
        created_at=created,
        last_seen_at=created,
        expires_at=created + ttl,
        revoked_at=revoked,
    )


async def _seed(loop: Loop) -> None:
    users = loop.world.users  # type: ignore[attr-defined]
    rep, manager = users["rep_a1"], users["manager_a"]
    async with transaction(loop.state.sessions) as session:
        old_link = _link(rep, "used 45 days ago", created=NOW - 45 * DAY, used=True)
        session.add_all(
            [
                old_link,
                _link(rep, "expired unused 31 days ago", created=NOW - 31 * DAY, used=False),
                _link(manager, "expired unused 29 days ago", created=NOW - 29 * DAY, used=False),
                _link(manager, "used 10 days ago", created=NOW - 10 * DAY, used=True),
                _link(rep, "still usable", created=NOW - dt.timedelta(minutes=5), used=False),
            ]
        )
        await session.flush()
        session.add_all(
            [
                _session(rep, "expired 31 days ago", created=NOW - 45 * DAY, ttl=14 * DAY),
                _session(
                    rep,
                    "revoked 40 days ago",
                    created=NOW - 41 * DAY,
                    ttl=14 * DAY,
                    revoked=NOW - 40 * DAY,
                ),
                _session(manager, "expired 29 days ago", created=NOW - 43 * DAY, ttl=14 * DAY),
                _session(
                    manager,
                    "revoked 5 days ago",
                    created=NOW - 8 * DAY,
                    ttl=14 * DAY,
                    revoked=NOW - 5 * DAY,
                ),
            ]
        )
        # Opened with the old link 45 days ago and still live (a long TTL): it outlives its link.
        live = _session(rep, "live", created=NOW - 45 * DAY, ttl=60 * DAY)
        live.sign_in_link_id = old_link.id
        session.add(live)


async def _left(loop: Loop) -> tuple[set[str], set[str]]:
    names = {
        hash_token(n): n
        for n in (
            "used 45 days ago",
            "expired unused 31 days ago",
            "expired unused 29 days ago",
            "used 10 days ago",
            "still usable",
            "expired 31 days ago",
            "revoked 40 days ago",
            "expired 29 days ago",
            "revoked 5 days ago",
            "live",
        )
    }
    async with loop.state.sessions() as session:
        links = {names[h] for h in await session.scalars(select(SignInLink.token_hash))}
        sessions = {names[h] for h in await session.scalars(select(UserSession.token_hash))}
    return links, sessions


@pytest.mark.parametrize("batch", [1, 2, 1000])
async def test_what_ended_before_the_retention_is_deleted_in_batches(loop: Loop, batch) -> None:
    await _seed(loop)
    deleted = await purge_ended_sign_ins(
        loop.state.sessions, now=NOW, retention=RETENTION, batch=batch
    )
    assert deleted == 4
    links, sessions = await _left(loop)
    assert links == {"expired unused 29 days ago", "used 10 days ago", "still usable"}
    assert sessions == {"expired 29 days ago", "revoked 5 days ago", "live"}
    async with loop.state.sessions() as session:
        live = await session.scalar(
            select(UserSession).where(UserSession.token_hash == hash_token("live"))
        )
    assert live is not None and live.sign_in_link_id is None  # its link is gone, not it

    again = await purge_ended_sign_ins(
        loop.state.sessions, now=NOW, retention=RETENTION, batch=batch
    )
    assert again == 0
    assert await _left(loop) == (links, sessions)


async def test_the_worker_purges_by_the_retention_setting(loop: Loop) -> None:
    assert any(job.name == "purge_ended_sign_ins" for job in JOBS)
    assert loop.state.settings.sign_in_retention_days == 30
    await _seed(loop)
    assert (await run_jobs_once(loop.state, now=NOW))["purge_ended_sign_ins"] == 4
    assert (await run_jobs_once(loop.state, now=NOW))["purge_ended_sign_ins"] == 0
    # Two days on, what had ended 29 days ago has passed the retention too.
    later = await run_jobs_once(loop.state, now=NOW + 2 * DAY)
    assert later["purge_ended_sign_ins"] == 2
    links, sessions = await _left(loop)
    assert links == {"used 10 days ago", "still usable"}
    assert sessions == {"revoked 5 days ago", "live"}


async def test_a_batch_must_hold_a_row(loop: Loop) -> None:
    with pytest.raises(ValueError, match="batch must be at least 1, got 0"):
        await purge_ended_sign_ins(loop.state.sessions, now=NOW, retention=RETENTION, batch=0)
