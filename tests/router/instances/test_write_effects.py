"""Writes report their effect: the answer to a create or delete a zone forwards carries the
child's new summary, and the zone's view of the child is current before it answers. No poll
runs between a write and what is checked after it (and no watch ever): what the root knows
then, the answers told it."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Api
from tests.router.tree import Tree, trusting_chain

FULL = {"name": "full", "resources": {"ram_mb": 100}}


async def chain(http: aiohttp.ClientSession, zones: ZoneStarter) -> Tree:
    """root > mid > leaf; the leaf's one host has room for one FULL instance."""
    return await trusting_chain(http, zones, "h1", {"ram_mb": 100})


async def free_ram(tree: Tree, zone: str) -> Any:
    return (await tree.info(zone))["free"].get("ram_mb", {}).get("max")


async def test_a_delete_frees_room_the_very_next_create_through_the_root_can_use(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await chain(http, zones)
    root = tree.admins["root"]
    first = await root.call("POST", "/instances", json_body={"instance": FULL})
    assert first.body["instance"]["status"] == "ACTIVE", first
    await tree.poll("mid", "root")  # the root has heard that the leaf is full
    assert await free_ram(tree, "root") == 0
    gone = await root.call("DELETE", f"/instances/{first.body['instance']['id']}")
    assert gone.status == 204, gone
    again = await root.call("POST", "/instances", json_body={"instance": FULL})
    assert again.status == 201, again
    assert again.body["instance"]["status"] == "ACTIVE", again.body["instance"]["fault"]


async def test_each_zone_on_the_way_knows_the_room_a_create_took_before_it_answers(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await chain(http, zones)
    assert (await free_ram(tree, "root"), await free_ram(tree, "mid")) == (100, 100)
    made = await tree.admins["root"].call("POST", "/instances", json_body={"instance": FULL})
    assert made.body["instance"]["status"] == "ACTIVE", made
    assert (await free_ram(tree, "root"), await free_ram(tree, "mid")) == (0, 0)
    assert (await tree.info("root"))["instances"] == 1


async def test_a_caller_that_is_not_a_parent_is_told_no_summary(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await chain(http, zones)
    made = await tree.admins["leaf"].call("POST", "/instances", json_body={"instance": FULL})
    assert made.status == 201, made
    assert "X-Zones-Summary" not in made.headers


async def test_a_burst_of_writes_from_a_parent_is_answered_with_a_summary_each_time(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """Each answer's summary is built while other writes commit: building it must never turn
    a committed write into an error (it once did: a count read while another write landed)."""
    zone = await zones("busy")
    admin = await Api(http, zone.url).as_user()
    assert admin.token is not None
    await admin.call("PUT", "/hosts/h1", json_body={"host": {"inventory": {"ram_mb": 1e6}}})
    as_parent = {"X-Zones-Service-Token": admin.token}

    async def create_and_delete(index: int) -> tuple[int, int, bool]:
        body = {"instance": {"name": f"b{index}", "resources": {"ram_mb": 1}}}
        made = await admin.call("POST", "/instances", json_body=body, headers=as_parent)
        summarised = "X-Zones-Summary" in made.headers
        if made.status != 201:
            return made.status, 0, summarised
        gone = await admin.call(
            "DELETE", f"/instances/{made.body['instance']['id']}", headers=as_parent
        )
        return made.status, gone.status, summarised

    for _ in range(3):
        answers = await asyncio.gather(*(create_and_delete(index) for index in range(30)))
        assert answers == [(201, 204, True)] * 30
    assert (await tree_info(admin))["instances"] == 0


async def tree_info(admin: Api) -> dict[str, Any]:
    answer = await admin.call("GET", "/zones/info")
    assert answer.status == 200, answer
    return dict(answer.body["zone"])
