"""Watches: with `poll.interval = 30`, what changes at a leaf is known at both roots within a
second (a heartbeat, a create, a delete), because each parent holds a watch on each child."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack, suppress
from typing import Any

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import eventually
from tests.router.tree import Tree, trusting_chain
from tests.statements import counting

WATCHING = {"interval": 30.0, "timeout": 1.0, "watch": True}
SOON = 1.0  # seconds: what the issue asks of a change reaching the roots


async def two_roots(http: aiohttp.ClientSession, zones: ZoneStarter) -> Tree:
    """world > mid > leaf and gpu > mid > leaf, every parent watching."""
    tree = Tree(http)
    for name in ("leaf", "mid", "world", "gpu"):
        await tree.start(zones, name, poll=WATCHING)
    await tree.heartbeat("leaf", "h1", capabilities={"gpu": True}, inventory={"ram_mb": 1024})
    await tree.add_child("mid", "leaf")
    await tree.add_child("world", "mid")
    await tree.add_child("gpu", "mid")
    for root in ("world", "gpu"):
        await eventually(lambda root=root: free_ram_is(tree, root, 1024), timeout=5)
    return tree


async def free_ram_is(tree: Tree, zone: str, amount: float) -> bool:
    free: dict[str, Any] = (await tree.info(zone))["free"]
    return free.get("ram_mb", {}).get("max") == amount


async def lookup_names(tree: Tree, zone: str) -> str | None:
    found = await tree.admins[zone].call("GET", "/auth/lookup?client=admin")
    return None if found.status == 404 else str(found.body["zone"]["name"])


async def test_a_heartbeat_that_changes_free_room_at_a_leaf_reaches_both_roots_at_once(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await two_roots(http, zones)
    await tree.heartbeat("leaf", "h1", capabilities={"gpu": True}, inventory={"ram_mb": 512})
    for root in ("world", "gpu"):
        await eventually(lambda root=root: free_ram_is(tree, root, 512), timeout=SOON)


async def test_a_create_and_a_delete_at_a_leaf_reach_both_roots_lookups_at_once(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await two_roots(http, zones)
    assert await lookup_names(tree, "world") is None
    body = {"instance": {"name": "i", "resources": {"ram_mb": 256}}}
    made = await tree.admins["leaf"].call("POST", "/instances", json_body=body)
    assert made.status == 201, made
    for root in ("world", "gpu"):

        async def found_at_leaf(root: str = root) -> bool:
            return await lookup_names(tree, root) == "leaf" and await free_ram_is(tree, root, 768)

        await eventually(found_at_leaf, timeout=SOON)
    gone = await tree.admins["leaf"].call("DELETE", f"/instances/{made.body['instance']['id']}")
    assert gone.status == 204, gone
    for root in ("world", "gpu"):

        async def forgotten(root: str = root) -> bool:
            return await lookup_names(tree, root) is None and await free_ram_is(tree, root, 1024)

        await eventually(forgotten, timeout=SOON)


async def test_an_idle_watch_costs_neither_side_a_database_statement(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await two_roots(http, zones)
    await settled(tree, "leaf", "mid")
    with counting(tree.zones["leaf"]) as leaf, counting(tree.zones["mid"]) as mid:
        await asyncio.sleep(2.0)  # not a wait for a condition: the window being measured
    assert leaf.statements == [] and mid.statements == []
    # ... and the watches were held all along: a change still arrives at once.
    await tree.heartbeat("leaf", "h1", capabilities={"gpu": True}, inventory={"ram_mb": 100})
    await eventually(lambda: free_ram_is(tree, "world", 100), timeout=SOON)


async def settled(tree: Tree, *names: str, quiet: float = 0.3, timeout: float = 5.0) -> None:
    """Until the zones have sent their databases nothing for `quiet` seconds: the end of
    what the tree's start set going (the last index fetches of the roots)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with ExitStack() as stack:
            windows = [stack.enter_context(counting(tree.zones[name])) for name in names]
            await asyncio.sleep(quiet)
        if all(not window.statements for window in windows):
            return
        assert asyncio.get_running_loop().time() < deadline, "the zones never went quiet"


async def test_a_create_through_a_zone_changes_its_info_once_so_its_parents_hear_it_once(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    # Entering at root: the leaf's answer to the create tells mid what the leaf has now,
    # and the create's commit at mid changes mid's client index: one generation for both;
    # the leaf's news that mid's watch then fetches (mid knew it from the answer) writes
    # nothing.
    tree = await trusting_chain(http, zones, "h1", {"ram_mb": 1024}, poll=WATCHING)
    await eventually(lambda: free_ram_is(tree, "root", 1024), timeout=5)
    await settled(tree, "leaf", "mid", "root")
    before = (await tree.info("mid"))["generation"]
    seen: list[int] = []
    watching = asyncio.create_task(generations(tree, "mid", before, seen))
    body = {"instance": {"name": "i", "resources": {"ram_mb": 256}}}
    made = await tree.admins["root"].call("POST", "/instances", json_body=body)
    assert made.status == 201, made
    await eventually(lambda: free_ram_is(tree, "root", 768), timeout=SOON)
    await settled(tree, "leaf", "mid", "root")
    watching.cancel()
    with suppress(asyncio.CancelledError):
        await watching
    assert len(seen) == 1, f"mid's info went through {len(seen)} generations: {seen}"
    assert seen[0] == (await tree.info("mid"))["generation"]


async def generations(tree: Tree, zone: str, since: int, seen: list[int]) -> None:
    """Each generation of the zone's info after `since`, as a watching parent sees them."""
    while True:
        answer = await tree.admins[zone].call(
            "GET", "/zones/info", headers={"If-None-Match": f'"{since}"', "Prefer": "wait=5"}
        )
        if answer.status == 200:
            since = answer.body["zone"]["generation"]
            seen.append(since)
