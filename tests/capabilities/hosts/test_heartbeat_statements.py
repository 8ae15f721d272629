"""What a heartbeat asks of the zone's database. A host sends one every few seconds, so one
that changes nothing but the expiry must stay cheap; the budgets are exact, so a change that
adds a statement says so here."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Api
from tests.statements import counting

BEAT = {"capabilities": {"os": "linux", "gpu": True}, "inventory": {"ram_mb": 4096, "disk_gb": 50}}


async def beat(admin: Api, **changes: Any) -> dict[str, Any]:
    answer = await admin.call("PUT", "/hosts/h1", json_body={"host": {**BEAT, **changes}})
    assert answer.status == 200, answer
    return dict(answer.body["host"])


async def test_an_unchanged_heartbeat_costs_one_statement_and_a_changed_one_more(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str
) -> None:
    zone = await zones("beating", database_url, router={"reread_interval": 3600.0})
    admin = await Api(http, zone.url).as_user()
    first = await beat(admin)
    with counting(zone) as unchanged:
        again = await beat(admin)
    assert again["inventory"] == first["inventory"] and again["expires_at"] > first["expires_at"]
    with counting(zone) as changed:
        moved = await beat(admin, inventory={"ram_mb": 8192})
    assert moved["inventory"] == {"ram_mb": 8192}
    assert (unchanged.cost, changed.cost) == (
        {"statements": 1, "transactions": 1},
        {"statements": 8, "transactions": 1},
    ), "\n".join(["unchanged:", *unchanged.statements, "changed:", *changed.statements])
