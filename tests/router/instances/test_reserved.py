"""Reserved room on a real tree: hosts and zones kept for the work that names their keys.

A plain create (its requirements name no reserved key) never lands on a reserved
host or below a reserved zone, even when only reserved room is left: it is then kept
as ERROR with a fault that says the room is reserved. A create naming the key lands
there. The parent that stores its children's open room is on each database backend.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import Api
from tests.router.tree import Tree

LINUX = {"os": "linux", "gpu_count": 0}
GPU = {"os": "linux", "gpu_count": 8, "gpu_model": "a100"}
GPU_WORK = {"os": "linux", "gpu_count": {"ge": 1}}


def create(name: str, **fields: Any) -> dict[str, Any]:
    return {"instance": {"name": name, **fields}}


async def made(api: Api, name: str, **fields: Any) -> dict[str, Any]:
    answer = await api.call("POST", "/instances", json_body=create(name, **fields))
    assert answer.status == 201, answer
    return dict(answer.body["instance"])


async def test_a_reserved_host_takes_only_creates_that_name_its_key(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str
) -> None:
    admin = await Api(http, (await zones("huddle", database_url)).url).as_user()
    beats = {
        "o1": {"capabilities": LINUX, "inventory": {"ram_mb": 8192}},
        "g1": {"capabilities": GPU, "inventory": {"ram_mb": 262144}, "reserved": ["gpu_count"]},
    }
    for name, beat in beats.items():
        for _ in range(2):  # the second says the same: answered without a new row
            answer = await admin.call("PUT", f"/hosts/{name}", json_body={"host": beat})
            assert answer.status == 200, answer
            assert answer.body["host"]["reserved"] == beat.get("reserved", [])
    listed = (await admin.call("GET", "/hosts")).body["hosts"]
    assert {host["name"]: host["reserved"] for host in listed} == {"g1": ["gpu_count"], "o1": []}

    # Spread alone would choose g1, the host with the most room.
    for number in (1, 2):
        web = await made(
            admin, f"web-{number}", requirements={"os": "linux"}, resources={"ram_mb": 4096}
        )
        assert (web["status"], web["host"]) == ("ACTIVE", "o1")
    full = await made(admin, "web-3", requirements={"os": "linux"}, resources={"ram_mb": 1024})
    assert (full["status"], full["host"]) == ("ERROR", None)
    assert "the room left is reserved for gpu_count" in full["fault"]["message"]
    only_gpus = await made(admin, "a100", requirements={"gpu_model": "a100"})
    assert only_gpus["status"] == "ERROR"
    assert "reserved for gpu_count" in only_gpus["fault"]["message"]

    trainer = await made(admin, "train", requirements=GPU_WORK, resources={"ram_mb": 4096})
    assert (trainer["status"], trainer["host"]) == ("ACTIVE", "g1")
    info = (await admin.call("GET", "/zones/info")).body["zone"]
    assert info["reserved"] == ["gpu_count"]
    assert info["open"]["hosts"] == 1
    assert info["open"]["free"] == {"ram_mb": {"max": 0.0, "sum": 0.0}}
    assert info["free"]["ram_mb"] == {"max": 258048.0, "sum": 258048.0}


@pytest.mark.parametrize(
    ("beat", "message"),
    [
        ({"capabilities": GPU, "reserved": ["GPU"]}, "host.reserved"),
        ({"capabilities": GPU, "reserved": "gpu_count"}, "host.reserved"),
        ({"capabilities": GPU, "reserved": [1]}, "host.reserved"),
        ({"capabilities": GPU, "reserved": ["fpga"]}, "host.reserved: Value error, fpga"),
        (
            {
                "capabilities": {f"k{i}": 1 for i in range(33)},
                "reserved": [f"k{i}" for i in range(33)],
            },
            "host.reserved",
        ),
    ],
)
async def test_bad_reserved_keys_in_a_heartbeat_are_400_and_store_nothing(
    admin: Api, beat: dict[str, Any], message: str
) -> None:
    answer = await admin.call("PUT", "/hosts/g1", json_body={"host": beat})
    assert answer.status == 400, answer
    assert message.replace("Value error, ", "") in answer.problem["detail"]
    assert (await admin.call("GET", "/hosts")).body["hosts"] == []


async def reserved_tree(http: aiohttp.ClientSession, zones: ZoneStarter, root_db: str) -> Tree:
    """root > plain (o1: 8 GiB open), big (o2: 8 GiB open, g1: 256 GiB reserved for
    gpu_count), gpus (`[zone] reserved = ["gpu_count"]`, z1: 128 GiB)."""
    tree = Tree(http)
    root = await tree.start(zones, "root", database_url=root_db)
    trust = {"trusted_issuers": [root.url]}
    await tree.start(zones, "plain", auth=trust)
    await tree.start(zones, "big", auth=trust)
    await tree.start(zones, "gpus", auth=trust, zone={"reserved": ["gpu_count"]})
    await tree.heartbeat("plain", "o1", capabilities=LINUX, inventory={"ram_mb": 8192})
    await tree.heartbeat("big", "o2", capabilities=LINUX, inventory={"ram_mb": 8192})
    await tree.heartbeat(
        "big", "g1", capabilities=GPU, inventory={"ram_mb": 262144}, reserved=["gpu_count"]
    )
    await tree.heartbeat("gpus", "z1", capabilities=GPU, inventory={"ram_mb": 131072})
    for child in ("plain", "big", "gpus"):
        await tree.add_child("root", child)
    await tree.poll("root")
    return tree


async def names_of(tree: Tree, query: str) -> set[str]:
    answer = await tree.admins["root"].call("GET", f"/zones?{query}")
    assert answer.status == 200, answer
    return {zone["name"] for zone in answer.body["zones"]}


async def test_parents_send_plain_creates_only_where_open_room_is(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str
) -> None:
    tree = await reserved_tree(http, zones, database_url)
    gpus = await tree.info("gpus")
    assert (gpus["reserved"], gpus["open"]["hosts"], gpus["open"]["free"]) == (["gpu_count"], 0, {})
    assert (await tree.info("root"))["reserved"] == ["gpu_count"]
    assert await names_of(tree, "ram_mb.free.max=ge:100000") == {"big", "gpus"}
    assert await names_of(tree, "ram_mb.free_open.max=ge:100000") == set()
    assert await names_of(tree, "ram_mb.free_open.sum=ge:8192") == {"plain", "big"}
    bad = await tree.admins["root"].call("GET", "/zones?ram_mb.free_open.max=lots")
    assert bad.status == 400 and "ram_mb.free_open.max" in bad.problem["detail"]

    root = tree.admins["root"]
    placed = [
        await made(root, f"web-{n}", requirements={"os": "linux"}, resources={"ram_mb": 4096})
        for n in range(4)
    ]
    assert sorted((i["zone"], i["host"]) for i in placed) == [
        ("big", "o2"),
        ("big", "o2"),
        ("plain", "o1"),
        ("plain", "o1"),
    ]
    left = await made(root, "web-5", requirements={"os": "linux"}, resources={"ram_mb": 1024})
    assert (left["status"], left["zone"]) == ("ERROR", "root")
    assert "the room left below is reserved for gpu_count" in left["fault"]["message"]
    for zone in ("big", "gpus"):
        below = await tree.admins[zone].call("GET", "/instances?all_clients=true")
        assert [i["host"] for i in below.body["instances"]] == (
            ["o2", "o2"] if zone == "big" else []
        )

    trainer = await made(root, "train", requirements=GPU_WORK, resources={"ram_mb": 200000})
    assert (trainer["status"], trainer["zone"], trainer["host"]) == ("ACTIVE", "big", "g1")
    second = await made(root, "train-2", requirements=GPU_WORK, resources={"ram_mb": 100000})
    assert (second["status"], second["zone"], second["host"]) == ("ACTIVE", "gpus", "z1")


async def test_a_reserved_zone_places_nothing_else_even_when_asked_directly(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = Tree(http)
    await tree.start(zones, "gpus", zone={"reserved": ["gpu_count"]})
    await tree.start(zones, "below")
    await tree.heartbeat("gpus", "z1", capabilities=GPU, inventory={"ram_mb": 131072})
    await tree.heartbeat("below", "b1", capabilities=LINUX, inventory={"ram_mb": 8192})
    await tree.add_child("gpus", "below")
    await tree.poll("gpus")
    admin = tree.admins["gpus"]

    plain = await made(admin, "web", requirements={"os": "linux"})
    assert (plain["status"], plain["host"]) == ("ERROR", None)
    assert "this zone is reserved for gpu_count" in plain["fault"]["message"]
    assert (await tree.admins["below"].call("GET", "/instances?all_clients=true")).body[
        "instances"
    ] == []
    trainer = await made(admin, "train", requirements=GPU_WORK)
    assert (trainer["status"], trainer["host"]) == ("ACTIVE", "z1")
