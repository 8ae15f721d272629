"""What a heartbeat asks of the zone's database. A host sends one every few seconds, so one
that changes nothing but the expiry must stay cheap: it is answered from memory, and the
expiries moved are written together; the budgets are exact, so a change that adds a
statement says so here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Api, RunningZone
from tests.statements import counting
from zones.capabilities.hosts.appkeys import HOST_BOARD
from zones.capabilities.hosts.models import Host
from zones.node.appkeys import SESSIONS
from zones.node.database import upsert_statement

BEAT = {"capabilities": {"os": "linux", "gpu": True}, "inventory": {"ram_mb": 4096, "disk_gb": 50}}


async def beat(admin: Api, name: str = "h1", **changes: Any) -> dict[str, Any]:
    answer = await admin.call("PUT", f"/hosts/{name}", json_body={"host": {**BEAT, **changes}})
    assert answer.status == 200, answer
    return dict(answer.body["host"])


async def stored_expiry(zone: RunningZone, name: str) -> datetime:
    async with zone.app[SESSIONS].begin() as session:
        host = await session.get(Host, name, populate_existing=True)
        assert host is not None
        return host.expires_at


async def test_an_unchanged_heartbeat_asks_nothing_and_its_expiry_is_written_with_others(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str
) -> None:
    zone = await zones(
        "beating",
        database_url,
        router={"reread_interval": 3600.0},
        hosts={"expiry_flush_interval": 60.0},  # flushed by the test, below
    )
    admin = await Api(http, zone.url).as_user()
    names = ["h1", "h2", "h3"]
    first = {name: await beat(admin, name, ttl=600.0) for name in names}
    with counting(zone) as unchanged:
        again = {name: await beat(admin, name, ttl=600.0) for name in names}
    assert unchanged.cost == {"statements": 0, "transactions": 0}, unchanged.statements
    for name in names:
        assert again[name]["inventory"] == first[name]["inventory"]
        assert again[name]["expires_at"] > first[name]["expires_at"]
        assert await stored_expiry(zone, name) == parse(first[name]["expires_at"])
    listed = (await admin.call("GET", "/hosts")).body["hosts"]  # as placement sees them
    assert {host["name"]: host["expires_at"] for host in listed} == {
        name: again[name]["expires_at"] for name in names
    }
    with counting(zone) as flushed:
        await zone.app[HOST_BOARD].flush(zone.app[SESSIONS])
    assert flushed.cost == {"statements": 1, "transactions": 1}, flushed.statements
    for name in names:
        assert await stored_expiry(zone, name) == parse(again[name]["expires_at"])
    with counting(zone) as changed:
        moved = await beat(admin, "h1", inventory={"ram_mb": 8192}, ttl=600.0)
    assert moved["inventory"] == {"ram_mb": 8192}
    # On PostgreSQL, one more: the commit's news to the zone's other workers (pg_notify).
    news = 1 if database_url.startswith("postgresql") else 0
    assert changed.cost == {"statements": 8 + news, "transactions": 1}, changed.statements
    assert ("pg_notify" in changed.statements[-1]) == bool(news)


async def test_a_heartbeat_whose_stored_expiry_runs_out_first_goes_to_the_database(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """With a ttl shorter than two flushes, the database's expiry would run out before the
    next flush wrote the new one: such a heartbeat is one statement, as it always was."""
    zone = await zones(
        "brief", router={"reread_interval": 3600.0}, hosts={"expiry_flush_interval": 60.0}
    )
    admin = await Api(http, zone.url).as_user()
    await beat(admin, "h1", ttl=30.0)
    with counting(zone) as unchanged:
        again = await beat(admin, "h1", ttl=30.0)
    assert unchanged.cost == {"statements": 1, "transactions": 1}, unchanged.statements
    assert await stored_expiry(zone, "h1") == parse(again["expires_at"])


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


async def test_a_heartbeat_that_changes_the_host_builds_no_statement_of_its_own(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str
) -> None:
    zone = await zones("changing", database_url)
    admin = await Api(http, zone.url).as_user()
    await beat(admin, "h1", inventory={"ram_mb": 1024})  # the upserts are built here, once
    built = upsert_statement.cache_info().currsize
    for ram in (2048, 3072):
        added = await beat(admin, f"h{ram}", inventory={"ram_mb": ram})  # a new host
        changed = await beat(admin, "h1", inventory={"ram_mb": ram})
        assert added["inventory"] == changed["inventory"] == {"ram_mb": ram}
    assert upsert_statement.cache_info().currsize == built
