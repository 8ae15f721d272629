"""What one `/auth/lookup` asks of the zone's database: the budget is exact, so a change that
adds a statement to the lookup says so here."""

from __future__ import annotations

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Api
from tests.statements import counting


async def test_a_lookup_costs_one_statement_and_a_repeated_one_none(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str
) -> None:
    zone = await zones("looked-up", database_url, router={"reread_interval": 3600.0})
    admin = await Api(http, zone.url).as_user()
    beat = {"host": {"capabilities": {}, "inventory": {"ram_mb": 64}}}
    assert (await admin.call("PUT", "/hosts/h1", json_body=beat)).status == 200
    body = {"instance": {"name": "i", "resources": {"ram_mb": 1}}}
    assert (await admin.call("POST", "/instances", json_body=body)).status == 201
    with counting(zone) as counted:
        found = await admin.call("GET", "/auth/lookup?client=admin")
    assert found.status == 200, found
    assert found.body["zone"]["name"] == "looked-up"
    assert counted.cost == {"statements": 1, "transactions": 1}, counted.statements
    with counting(zone) as again:
        assert (await admin.call("GET", "/auth/lookup?client=admin")).body == found.body
    assert again.cost == {"statements": 0, "transactions": 0}, "a kept answer is read again"


async def test_a_kept_answer_follows_each_change_of_its_client_at_once(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    zone = await zones("following", router={"reread_interval": 3600.0})
    admin = await Api(http, zone.url).as_user()
    beat = {"host": {"capabilities": {}, "inventory": {"ram_mb": 64}}}
    assert (await admin.call("PUT", "/hosts/h1", json_body=beat)).status == 200
    assert (await admin.call("GET", "/auth/lookup?client=admin")).status == 404
    body = {"instance": {"name": "i", "resources": {"ram_mb": 1}}}
    made = await admin.call("POST", "/instances", json_body=body)
    assert made.status == 201, made
    assert (await admin.call("GET", "/auth/lookup?client=admin")).status == 200
    gone = await admin.call("DELETE", f"/instances/{made.body['instance']['id']}")
    assert gone.status == 204, gone
    assert (await admin.call("GET", "/auth/lookup?client=admin")).status == 404
