"""The schema: Alembic's migrations build exactly what the models describe, on every backend."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

import zones.node.tables  # noqa: F401 - registers every table
from tests.conftest import ZoneStarter
from zones.node.database import Base, create_engine, migrate


def differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        await migrate(engine)  # a second start finds nothing to do
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_zones_started_together_in_one_process_each_get_their_own_schema(
    zones: ZoneStarter,
) -> None:
    # Alembic keeps its context in module globals: unserialized, these migrations
    # interleaved and one zone's tables were created in another zone's database.
    started = await asyncio.gather(*(zones(f"together-{index}") for index in range(4)))
    assert len({zone.settings.database_url for zone in started}) == 4
