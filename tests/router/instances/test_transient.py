"""Transient is not permanent: a create that only a zone that is down could take answers 503
with Retry-After and stores nothing; sent again once the zone is back, it is placed.

    root ──► mid ──► leaf   (the only zone with slot = a)
              └────► other  (slot = b)
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from tests.conftest import ZoneStarter
from tests.router.tree import Tree

INSTANCE_ID = "7d3c2f4e-1a2b-4c5d-8e9f-0a1b2c3d4e5f"
CREATE = {"instance": {"id": INSTANCE_ID, "name": "t", "requirements": {"slot": "a"}}}


async def tree_with_the_leaf_offline(http: aiohttp.ClientSession, zones: ZoneStarter) -> Tree:
    tree = Tree(http)
    root = await tree.start(zones, "root")
    trust = {"trusted_issuers": [root.url]}
    for name in ("mid", "leaf", "other"):
        await tree.start(zones, name, auth=trust)
    await tree.heartbeat("leaf", "a1", capabilities={"slot": "a"}, inventory={"ram_mb": 64})
    await tree.heartbeat("other", "b1", capabilities={"slot": "b"}, inventory={"ram_mb": 64})
    await tree.add_child("mid", "leaf")
    await tree.add_child("mid", "other")
    await tree.add_child("root", "mid")
    await tree.poll("mid", "root")
    await tree.zones["leaf"].stop()
    await tree.poll("mid", "mid", "root")  # failures_before_offline = 2
    return tree


async def stored_anywhere(tree: Tree) -> list[str]:
    """Where the instance or a mapping of it is stored: asked of each zone on its own."""
    found = []
    for name in ("root", "mid", "other"):
        listed = await tree.admins[name].call("GET", "/instances?all_clients=true")
        if any(item["id"] == INSTANCE_ID for item in listed.body["instances"]):
            found.append(name)
        shown = await tree.admins[name].call("GET", f"/instances/{INSTANCE_ID}")
        if shown.status != 404:
            found.append(f"{name} (GET {shown.status})")
    return found


async def test_what_fits_only_where_a_zone_is_down_is_503_and_stored_nowhere(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await tree_with_the_leaf_offline(http, zones)
    mid_info = await tree.info("mid")
    assert mid_info["capabilities"]["slot"]["values"] == ["b"]  # the live part: other only
    assert mid_info["unavailable"]["capabilities"]["slot"]["values"] == ["a"]
    root_info = await tree.info("root")
    assert root_info["unavailable"]["capabilities"]["slot"]["values"] == ["a"]

    refused = await tree.admins["root"].call("POST", "/instances", json_body=CREATE)
    assert refused.status == 503, refused
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.problem["unreachable_zones"] == ["leaf"]
    assert refused.problem["reason"] == "subtree-unavailable"
    assert await stored_anywhere(tree) == []
    again = await tree.admins["root"].call("POST", "/instances", json_body=CREATE)
    assert again.status == 503, "a second try while it is down is not turned into an ERROR"

    port = urlsplit(tree.zones["leaf"].url).port
    assert port is not None
    await tree.start_again(zones, "leaf", port, auth={"trusted_issuers": [tree.zones["root"].url]})
    await tree.poll("mid", "root")
    placed = await tree.admins["root"].call("POST", "/instances", json_body=CREATE)
    assert placed.status == 201, placed
    assert (placed.body["instance"]["status"], placed.body["instance"]["zone"]) == (
        "ACTIVE",
        "leaf",
    )


async def test_what_fits_nowhere_at_all_is_still_kept_with_a_fault_that_reads_once(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """`other` offers slot b and size big, but on two different hosts: its aggregate may
    satisfy {slot b, size big}, so it is asked, and it says no host does. Each zone on the
    way gives its reason once, under its own name."""
    tree = await tree_with_the_leaf_offline(http, zones)
    await tree.heartbeat("other", "b1", capabilities={"slot": "b", "size": "small"})
    await tree.heartbeat("other", "c1", capabilities={"slot": "c", "size": "big"})
    await tree.poll("mid", "root")
    body = {"instance": {"name": "never", "requirements": {"slot": "b", "size": "big"}}}
    kept = await tree.admins["root"].call("POST", "/instances", json_body=body)
    assert kept.status == 201, kept
    assert kept.body["instance"]["status"] == "ERROR"
    fault = kept.body["instance"]["fault"]["message"]
    assert "other: no live host satisfies the requirements" in fault, fault
    for zone in ("root", "mid", "other"):
        assert f"{zone}: {zone}:" not in fault, fault
