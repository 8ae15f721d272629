"""`GET /zones/tree`: the whole subtree as one nested document, down zones shown as offline with
what they last reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import ZoneStarter
from tests.router.tree import Tree
from zones.auth.keys import SIGNING_KEY_FILE

MEMBER = {"name": "mia", "password": "mia-pw", "client": "acme", "roles": ["member"]}


async def three_levels(http: aiohttp.ClientSession, zones: ZoneStarter) -> Tree:
    """root > mid > (leaf-a with two hosts, leaf-b with one), polled once bottom up."""
    tree = Tree(http)
    for name in ("leaf-a", "leaf-b", "mid", "root"):
        await tree.start(zones, name)
    await tree.heartbeat("leaf-a", "a1", capabilities={"os": "linux"}, inventory={"ram_mb": 1024})
    await tree.heartbeat("leaf-a", "a2", capabilities={"os": "linux"}, inventory={"ram_mb": 512})
    await tree.heartbeat("leaf-b", "b1", capabilities={"os": "bsd"}, inventory={"ram_mb": 256})
    await tree.add_child("mid", "leaf-a")
    await tree.add_child("mid", "leaf-b")
    await tree.add_child("root", "mid")
    await tree.poll("mid", "root")
    return tree


async def tree_at(tree: Tree, zone: str) -> dict[str, Any]:
    answer = await tree.admins[zone].call("GET", "/zones/tree")
    assert answer.status == 200, answer
    return dict(answer.body["zone"])


def by_name(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every zone of a tree document by name."""
    found = {node["name"]: node}
    for child in node["children"]:
        found.update(by_name(child))
    return found


async def test_the_tree_nests_every_zone_with_its_subtrees_figures(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await three_levels(http, zones)
    top = await tree_at(tree, "root")
    assert [child["name"] for child in top["children"]] == ["mid"]
    assert [child["name"] for child in top["children"][0]["children"]] == ["leaf-a", "leaf-b"]
    zones_by_name = by_name(top)
    assert {name: node["state"] for name, node in zones_by_name.items()} == dict.fromkeys(
        ("root", "mid", "leaf-a", "leaf-b"), "online"
    )
    assert [zones_by_name[name]["hosts"] for name in ("root", "mid", "leaf-a", "leaf-b")] == [
        3,
        3,
        2,
        1,
    ]
    assert zones_by_name["root"]["free"]["ram_mb"] == {"max": 1024, "sum": 1792}
    assert zones_by_name["leaf-b"]["capabilities"]["os"]["values"] == ["bsd"]
    assert zones_by_name["root"]["last_seen"] is None
    assert zones_by_name["mid"]["last_seen"] is not None
    assert zones_by_name["leaf-a"]["url"] == tree.zones["leaf-a"].url


async def test_a_zone_that_does_not_answer_is_offline_with_what_it_last_reported(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await three_levels(http, zones)
    await tree.zones["leaf-b"].stop()
    zones_by_name = by_name(await tree_at(tree, "root"))
    assert zones_by_name["leaf-b"]["state"] == "offline"
    assert zones_by_name["leaf-b"]["hosts"] == 1  # as it last reported
    assert zones_by_name["leaf-a"]["state"] == "online"
    await tree.zones["mid"].stop()
    top = await tree_at(tree, "root")
    (mid,) = top["children"]
    assert (mid["state"], mid["hosts"]) == ("offline", 3)
    assert [(below["name"], below["state"], below["hosts"]) for below in mid["children"]] == [
        ("leaf-a", "unknown", None),
        ("leaf-b", "unknown", None),
    ]


async def test_the_tree_is_for_admins_and_services_only(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = Tree(http)
    await tree.start(zones, "root")
    made = await tree.admins["root"].call("POST", "/users", json_body={"user": MEMBER})
    assert made.status == 201, made
    member = await tree.admins["root"].as_user(MEMBER["name"], MEMBER["password"])
    refused = await member.call("GET", "/zones/tree")
    assert refused.status == 403, refused
    anonymous = await tree.admins["root"].call("GET", "/zones/tree", token="")
    assert anonymous.status == 401, anonymous


async def test_a_child_is_linked_at_the_address_it_was_registered_with(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = Tree(http)
    await tree.start(zones, "root")
    leaf = await tree.start(zones, "leaf")
    elsewhere = leaf.url.replace("127.0.0.1", "localhost")  # the leaf calls itself 127.0.0.1
    await tree.add_child("root", "leaf", api_url=elsewhere)
    await tree.poll("root")
    (child,) = (await tree_at(tree, "root"))["children"]
    assert (child["name"], child["state"], child["url"]) == ("leaf", "online", elsewhere)


async def test_a_child_whose_keys_changed_is_asked_again_with_a_new_token(
    http: aiohttp.ClientSession, zones: ZoneStarter, tmp_path: Path
) -> None:
    tree = await three_levels(http, zones)
    assert by_name(await tree_at(tree, "root"))["leaf-b"]["state"] == "online"
    port = tree.zones["leaf-b"].settings.listen_port
    await tree.zones["leaf-b"].stop()
    (tmp_path / "leaf-b" / "leaf-b.keys" / SIGNING_KEY_FILE).unlink()
    await tree.start_again(zones, "leaf-b", port)
    assert by_name(await tree_at(tree, "root"))["leaf-b"]["state"] == "online"


async def test_the_tree_tells_open_room_from_reserved_room(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = Tree(http)
    for name in ("leaf", "root"):
        await tree.start(zones, name)
    await tree.heartbeat("leaf", "plain", capabilities={"os": "linux"}, inventory={"ram_mb": 512})
    gpu = {"os": "linux", "gpu_count": 8}
    await tree.heartbeat(
        "leaf", "gpu", capabilities=gpu, inventory={"ram_mb": 4096}, reserved=["gpu_count"]
    )
    await tree.add_child("root", "leaf")
    await tree.poll("root")
    zones_by_name = by_name(await tree_at(tree, "root"))
    for name in ("root", "leaf"):
        zone = zones_by_name[name]
        assert zone["reserved"] == ["gpu_count"], zone
        assert zone["free"]["ram_mb"]["sum"] == 4608
        assert zone["open"]["free"]["ram_mb"] == {"max": 512, "sum": 512}, zone["open"]
        assert zone["open"]["hosts"] == 1
    await tree.zones["leaf"].stop()
    leaf = by_name(await tree_at(tree, "root"))["leaf"]  # offline: as it last reported
    assert (leaf["state"], leaf["reserved"], leaf["open"]["hosts"]) == ("offline", ["gpu_count"], 1)
