"""A zone over PostgreSQL keeps its connections within what it was given, and says so when
it could open more than the server accepts."""

from __future__ import annotations

import asyncio
import logging
import os

import aiohttp
import asyncpg
import pytest

from tests.conftest import POSTGRES_ENV, ZoneStarter, emptied_postgres
from tests.harness import Api
from zones.node.workers.dsn import plain_dsn

pytestmark = pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV),
    reason=f"needs PostgreSQL: set {POSTGRES_ENV} (set by .ci/run when a server answers)",
)

HOST = {"capabilities": {"site": "here"}, "inventory": {"ram_mb": 1000}, "ttl": 600}


async def connections_to(database_url: str) -> int:
    """Connections the server has open to the database, this one not counted."""
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return count
    finally:
        await connection.close()


async def test_more_requests_than_connections_wait_their_turn_and_all_succeed(
    http: aiohttp.ClientSession, zones: ZoneStarter, postgres_database: str | None
) -> None:
    database_url = await emptied_postgres(postgres_database)
    zone = await zones("alpha", database_url, zone={"database_connections": 2})
    admin = await Api(http, zone.url).as_user()
    assert (await admin.call("PUT", "/hosts/h1", json_body={"host": HOST})).status == 200
    body = {"instance": {"name": "w", "requirements": {"site": "here"}, "resources": {}}}
    answers = await asyncio.gather(
        *(admin.call("POST", "/instances", json_body=body) for _ in range(40))
    )
    assert [answer.status for answer in answers] == [201] * 40, answers
    listed = await admin.call("GET", "/instances")
    assert len(listed.body["instances"]) == 40
    # Two for statements, one for claims, the feed's and the leadership's.
    assert await connections_to(database_url) <= 2 + 1 + 2


async def test_a_zone_that_could_open_more_connections_than_the_server_accepts_says_so(
    zones: ZoneStarter, postgres_database: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    database_url = await emptied_postgres(postgres_database)
    caplog.set_level(logging.WARNING, logger="zones.workers")
    await (await zones("modest", database_url)).stop()
    assert not [r for r in caplog.records if "connections to PostgreSQL" in r.getMessage()]
    await zones("greedy", database_url, zone={"database_connections": 1000})
    said = [r.getMessage() for r in caplog.records if "connections to PostgreSQL" in r.getMessage()]
    assert len(said) == 1, said
    assert "greedy may open 1502 connections" in said[0]
    assert "zone.database_connections" in said[0]
