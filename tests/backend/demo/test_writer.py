"""The demo's bulk writer: ids back in row order, values stored as the ORM stores them, on
both databases (SQLite takes the driver's executemany, PostgreSQL Core's RETURNING)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.crm.models import Contact
from backend.demo.writer import BulkWriter
from backend.orgs.models import Organization
from tests.factories import NOW

AT = NOW.replace(microsecond=890123)  # the suite's fixed clock; microseconds kept


@pytest.mark.parametrize("rows", [0, 3, 12_001])  # 12,001: three pages of 5,000
async def test_ids_come_back_in_row_order(
    sessions: async_sessionmaker[AsyncSession], rows: int
) -> None:
    async with sessions.begin() as session:
        session.add(Organization(slug="earlier", name="Earlier"))
        session.add(Organization(slug="acme", name="Acme", config={"a": [1, None]}))
        await session.flush()
        org = await session.scalar(select(Organization.id).where(Organization.slug == "acme"))
        writer = BulkWriter(session)
        # a contact inserted the ORM's way first: the writer's ids start after it
        session.add(Contact(organization_id=org, email="first@x.example", name="First"))
        await session.flush()
        table = [
            {
                "organization_id": org,
                "email": f"c{i}@x.example",
                "name": f"Contact {i}",
                "company": None if i % 2 else f"Co {i}",
                "persona": None,
                "created_at": AT + dt.timedelta(seconds=i),
            }
            for i in range(rows)
        ]
        ids = await writer.insert_returning_ids(Contact, table, key=("email",))
        assert writer.counts["contacts"] == rows
    async with sessions() as session:
        stored = {c.id: c for c in await session.scalars(select(Contact))}
    assert len(ids) == len(set(ids)) == rows
    for i, contact_id in enumerate(ids):
        contact = stored[contact_id]
        assert contact.email == f"c{i}@x.example"
        assert contact.company == (None if i % 2 else f"Co {i}")
        assert contact.created_at == AT + dt.timedelta(seconds=i)  # aware, microseconds kept


async def test_constant_defaults_are_filled_and_json_kept(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        writer = BulkWriter(session)
        await writer.insert(
            Organization,
            [
                {"slug": "a", "name": "A", "config": {"k": [1, None]}, "created_at": AT},
                {"slug": "b", "name": "B", "config": {}, "created_at": AT},
            ],
        )
    async with sessions() as session:
        orgs = {o.slug: o for o in await session.scalars(select(Organization))}
    assert orgs["a"].timezone == "UTC"  # the column's constant default
    assert orgs["a"].config == {"k": [1, None]}
    assert orgs["b"].config == {}
    assert orgs["a"].created_at == AT


async def test_a_computed_default_is_refused_on_sqlite(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The driver's executemany cannot call ``utcnow``: the writer says which column to give
    (Core, on PostgreSQL, computes it)."""
    async with sessions.begin() as session:
        writer = BulkWriter(session)
        row = {"slug": "a", "name": "A", "config": {}}
        if session.get_bind().dialect.name == "sqlite":
            with pytest.raises(ValueError, match="created_at"):
                await writer.insert(Organization, [row])
        else:
            await writer.insert(Organization, [row])
            assert await session.scalar(select(Organization.created_at)) is not None
