"""The zone's PostgreSQL database goes away while it serves, then comes back.

The zone reaches PostgreSQL through a TCP proxy this test runs: closing it
(and every connection through it) is the database going away; opening it
again on the same port is the database coming back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from tests.conftest import ZoneStarter, emptied_postgres
from tests.harness import Api, eventually, free_port


@dataclass
class Proxy:
    """A TCP proxy on `port` to the PostgreSQL server at `target`."""

    port: int
    target: tuple[str, int]
    server: asyncio.Server | None = None
    pipes: set[asyncio.StreamWriter] = field(default_factory=set)
    flowing: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.flowing.set()

    def url_for(self, database_url: str) -> str:
        """`database_url` reached through this proxy."""
        server = database_url.split("@", 1)[1].split("/", 1)[0]
        return database_url.replace(server, f"127.0.0.1:{self.port}")

    def freeze(self) -> None:
        """The network to the database is cut without a reset: connections stay open (new
        ones too) and nothing crosses them until `thaw`."""
        self.flowing.clear()

    def thaw(self) -> None:
        self.flowing.set()

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def close(self) -> None:
        """The database goes away: no new connection, and every open one is cut."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.pipes):
            writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.pipes |= {writer, up_writer}

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    await self.flowing.wait()
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self.pipes -= {writer, up_writer}


@pytest.fixture
async def proxy(postgres_database: str | None) -> AsyncIterator[Proxy]:
    """Set up before the zones (and so closed after them): a zone stops over its database."""
    url = await emptied_postgres(postgres_database)
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    proxy = Proxy(free_port(), (host, int(port or 5432)))
    yield proxy
    await proxy.close()


async def test_while_the_database_is_away_requests_get_503_then_service_resumes(
    proxy: Proxy, http: aiohttp.ClientSession, zones: ZoneStarter, postgres_database: str
) -> None:
    await proxy.open()
    through_proxy = proxy.url_for(postgres_database)
    zone = await zones("outage", through_proxy)
    admin = await Api(http, zone.url).as_user()
    beat = {"host": {"capabilities": {"os": "linux"}, "inventory": {"ram_mb": 4096}}}
    assert (await admin.call("PUT", "/hosts/h1", json_body=beat)).status == 200
    made = await admin.call("POST", "/instances", json_body={"instance": {"name": "before"}})
    assert made.status == 201
    await proxy.close()
    try:
        refused = await admin.call("POST", "/instances", json_body={"instance": {"name": "away"}})
        assert refused.status == 503, refused
        assert refused.headers["Retry-After"] == "2"
        assert refused.problem["reason"] == "database-unavailable"
        assert (await admin.call("GET", "/instances")).status == 503
    finally:
        await proxy.open()

    async def serving_again() -> bool:
        answer = await admin.call("GET", "/instances")
        return answer.status == 200

    await eventually(serving_again, timeout=10.0)
    names = [i["name"] for i in (await admin.call("GET", "/instances")).body["instances"]]
    assert names == ["before"]  # nothing half-written while it was away
    after = await admin.call("POST", "/instances", json_body={"instance": {"name": "after"}})
    assert (after.status, after.body["instance"]["status"]) == (201, "ACTIVE")
