"""Fixtures: real databases (SQLite always, PostgreSQL when configured) and real zones."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.harness import Api, RunningZone, start_zone, zone_settings

POSTGRES_ENV = "ZONES_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of each backend: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'zone.db'}"
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (set by .ci/run when a server answers)")
    admin_dsn = server.replace("postgresql+asyncpg://", "postgresql://")
    name = f"zones_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        yield server.rsplit("/", 1)[0] + f"/{name}"
        await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await connection.close()


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
