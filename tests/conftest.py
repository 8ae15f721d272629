"""Fixtures: real databases (SQLite always, PostgreSQL when configured) and real zones."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.harness import Api, RunningZone, start_zone, zone_settings

POSTGRES_ENV = "ZONES_TEST_POSTGRES_URL"


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """One PostgreSQL database for this test run (None when no server is configured).

    Creating a database costs a few hundred milliseconds; each test empties this
    one instead, which costs a few.
    """
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        yield None
        return
    name = f"zones_test_{uuid.uuid4().hex[:12]}"

    async def administer(statement: str) -> None:
        connection = await asyncpg.connect(_plain_dsn(server))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(administer(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(administer(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_database: str | None
) -> str:
    """A fresh, empty database of each backend: a SQLite file, or an emptied PostgreSQL one."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'zone.db'}"
    return await emptied_postgres(postgres_database)


async def emptied_postgres(postgres_database: str | None) -> str:
    """The test run's PostgreSQL database with every table gone; skips without a server."""
    if postgres_database is None:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (set by .ci/run when a server answers)")
    connection = await asyncpg.connect(_plain_dsn(postgres_database))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()
    return postgres_database


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


ZoneStarter = Callable[..., Awaitable[RunningZone]]


@pytest.fixture
async def zones(tmp_path: Path) -> AsyncIterator[ZoneStarter]:
    """Start any number of zones in this test; all are stopped at its end.

    `await zones("name", database_url=..., auth={...}, zone={...})`
    """
    running: list[RunningZone] = []

    async def start(name: str, database_url: str | None = None, **sections: Any) -> RunningZone:
        directory = tmp_path / name
        directory.mkdir(exist_ok=True)
        zone = await start_zone(zone_settings(directory, name, database_url, **sections))
        running.append(zone)
        return zone

    yield start
    for zone in reversed(running):
        await zone.stop()


@pytest.fixture
async def zone(zones: ZoneStarter, database_url: str) -> RunningZone:
    """One zone on each database backend."""
    return await zones("alpha", database_url)


@pytest.fixture
async def admin(http: aiohttp.ClientSession, zone: RunningZone) -> Api:
    """An admin's client of `zone`."""
    return await Api(http, zone.url).as_user()


@pytest.fixture
async def lone_admin(http: aiohttp.ClientSession, zones: ZoneStarter) -> Api:
    """An admin of a zone on SQLite only, for behaviour that is the same on every backend."""
    zone = await zones("alpha")
    return await Api(http, zone.url).as_user()
