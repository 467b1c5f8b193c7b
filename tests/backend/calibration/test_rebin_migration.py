"""Migration 0007 rebuilds calibration_stats with scikit-learn's bins: the rows equal those the
application's rollup (backend.calibration.rollup) computes from the same resolved outcomes."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command

from analytics_engine.calibration import STAT_FIELDS
from backend.calibration.rollup import KEY_FIELDS, _rows
from backend.database import create_engine
from backend.migrations import alembic_config, upgrade
from backend.outcomes.resolution import ResolvedPrediction
from tests.conftest import POSTGRES_ADMIN_URL, _admin, unavailable

T = TypeVar("T")
UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 22, 30, tzinfo=UTC)  # late in the UTC day: days come from UTC
# Action type -> (the outcome type that calibrates it, one that does not).
OUTCOME_TYPES = {
    "email": ("email_reply", "email_delivery"),
    "follow_up": ("email_reply", "email_delivery"),
    "meeting": ("meeting_attendance", "meeting_feedback"),
    "stage_progression": ("deal_progression", "meeting_feedback"),
    "custom_task": ("task_success", "email_reply"),  # unknown types calibrate task_success
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url_at_0006(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'rebin.db'}"
        upgrade(url, "0006")
        yield url
        return
    name = f"sal_rebin_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        unavailable(f"PostgreSQL at {POSTGRES_ADMIN_URL} ({exc})")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    try:
        upgrade(url, "0006")
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run_sync(url: str, work: Callable[[sa.Connection], T]) -> T:
    """``work(connection)`` in one committed transaction of the project's (async) engine."""

    async def main() -> T:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def seed(connection: sa.Connection) -> list[ResolvedPrediction]:
    """Two organisations' actions and outcomes (resolved or not, calibrating or not), with the
    old rollup rows; returns the predictions the rollup counts."""
    meta = sa.MetaData()
    meta.reflect(connection, only=["organizations", "users", "teams", "agents"])
    meta.reflect(connection, only=["agent_actions", "outcomes", "calibration_stats"])
    t = meta.tables
    rng = np.random.default_rng(7)
    predictions = []
    for org in (1, 2):
        connection.execute(
            t["organizations"].insert(),
            [
                {
                    "id": org,
                    "slug": f"o{org}",
                    "name": "O",
                    "timezone": "UTC",
                    "config": {},
                    "created_at": T0,
                }
            ],
        )
        connection.execute(
            t["teams"].insert(),
            [{"id": org, "organization_id": org, "name": "T", "created_at": T0}],
        )
        connection.execute(
            t["users"].insert(),
            [
                {
                    "id": org,
                    "organization_id": org,
                    "email": f"u{org}@x.test",
                    "name": "U",
                    "role": "rep",
                    "team_id": org,
                    "active": True,
                    "created_at": T0,
                }
            ],
        )
        connection.execute(
            t["agents"].insert(),
            [
                {
                    "id": 10 * org + a,
                    "organization_id": org,
                    "name": f"A{a}",
                    "owner_id": org,
                    "team_id": org,
                    "active": True,
                    "created_at": T0,
                }
                for a in (1, 2)
            ],
        )
    edges = [0.0, 0.05, 0.5, 0.7, 0.75, 0.85, 0.9, 0.95, 1.0, float(np.nextafter(0.7, 1.0))]
    action_rows, outcome_rows = [], []
    for i in range(1, 601):
        org = 1 + i % 2
        agent = 10 * org + 1 + (i // 2) % 2
        action_type = list(OUTCOME_TYPES)[i % len(OUTCOME_TYPES)]
        p = edges[i % len(edges)] if i % 3 else float(rng.random())
        occurred = T0 + dt.timedelta(hours=int(rng.integers(0, 72)))
        action_rows.append(
            {
                "id": i,
                "organization_id": org,
                "agent_id": agent,
                "action_type": action_type,
                "confidence": p,
                "is_critical": False,
                "cost_amount": 0,
                "cost_currency": "USD",
                "cost_tokens": 0,
                "idempotency_key": f"k{i}",
                "details": {},
                "occurred_at": occurred,
                "created_at": occurred,
            }
        )
        calibrating, other = OUTCOME_TYPES[action_type]
        for j, outcome_type in enumerate((calibrating, other)):
            resolved = rng.random() < 0.8
            y = float(rng.choice([0.0, 0.25, 1.0])) if resolved else None
            outcome_rows.append(
                {
                    "id": 2 * i + j,
                    "organization_id": org,
                    "agent_id": agent,
                    "action_id": i,
                    "action_type": action_type,
                    "outcome_type": outcome_type,
                    "window": "engagement_7d",
                    "scale": "binary",
                    "detection": "automatic",
                    "status": "resolved" if resolved else "open",
                    "value": y,
                    "resolved_at": occurred if resolved else None,
                    "opened_at": occurred,
                    "created_at": occurred,
                    "evidence": {},
                }
            )
            if resolved and outcome_type == calibrating:
                day = occurred.astimezone(UTC).date()
                predictions.append(ResolvedPrediction(org, agent, action_type, day, p, y))
    connection.execute(t["agent_actions"].insert(), action_rows)
    connection.execute(t["outcomes"].insert(), outcome_rows)
    # What revision 0006 held: the old bins (floor), one row per key (sums left out).
    old = floor_bin_counts(predictions)
    connection.execute(
        t["calibration_stats"].insert(),
        [
            dict(zip(KEY_FIELDS, key, strict=True)) | {n: 0.0 for n in STAT_FIELDS} | {"count": c}
            for key, c in old.items()
        ],
    )
    return predictions


def stored_rows(connection: sa.Connection) -> dict[tuple, dict[str, float]]:
    table = sa.Table("calibration_stats", sa.MetaData(), autoload_with=connection)
    rows = connection.execute(sa.select(table)).mappings().all()
    return {
        tuple(row[k] for k in KEY_FIELDS): {n: float(row[n]) for n in STAT_FIELDS} for row in rows
    }


def test_upgrade_rebuilds_the_rollup_as_the_application_computes_it(url_at_0006: str) -> None:
    predictions = run_sync(url_at_0006, seed)
    upgrade(url_at_0006, "0007")
    stored = run_sync(url_at_0006, stored_rows)
    expected = {
        tuple(row[k] for k in KEY_FIELDS): {n: float(row[n]) for n in STAT_FIELDS}
        for row in _rows(predictions)
    }
    assert sorted(stored) == sorted(expected)
    for key, sums in expected.items():
        assert stored[key]["count"] == sums["count"]
        for name in STAT_FIELDS:
            assert stored[key][name] == pytest.approx(sums[name], rel=1e-12, abs=1e-12), name
    # Edges moved down one bin: 0.7 is in (0.65, 0.7000000000000001], bin 13 (it was 14).
    assert any(key[4] == 13 for key in stored)

    command.downgrade(alembic_config(url_at_0006), "0006")
    counts = {key: sums["count"] for key, sums in run_sync(url_at_0006, stored_rows).items()}
    assert counts == floor_bin_counts(predictions)


def floor_bin_counts(predictions: list[ResolvedPrediction]) -> dict[tuple, float]:
    """Outcomes per rollup key under the bins before 0007: ``min(floor(p · 20), 19)``."""
    counts: dict[tuple, float] = {}
    for item in predictions:
        key = (*item[:4], min(int(item.p * 20), 19))
        counts[key] = counts.get(key, 0) + 1
    return counts
