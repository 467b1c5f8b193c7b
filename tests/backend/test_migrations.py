"""One migration chain for both databases; the migrated schema equals the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import backend.models as models
from backend.database import create_engine


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync), models.Base.metadata
                )
            )
    finally:
        await engine.dispose()
    assert differences == []


def test_downgrade_to_nothing_and_up_again(tmp_path) -> None:
    from alembic import command

    from backend.migrations import alembic_config, upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    upgrade(url)
