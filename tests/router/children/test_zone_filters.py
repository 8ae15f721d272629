"""`GET /zones?...` filters children by what they last reported, through a database query."""

from __future__ import annotations

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.router.tree import Tree


@pytest.fixture
async def polled_tree(http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str) -> Tree:
    """A parent on each backend over three children with different hosts."""
    tree = Tree(http)
    await tree.start(zones, "parent", database_url=database_url)
    await tree.start(zones, "linux-gpu", zone={"capabilities": {"region": "na"}})
    await tree.start(zones, "windows", zone={"capabilities": {"region": "eu"}})
    await tree.start(zones, "empty", zone={"capabilities": {"region": "na"}})
    await tree.heartbeat(
        "linux-gpu",
        "g1",
        capabilities={"os": "linux", "gpu_count": 4, "ssd": True},
        inventory={"ram_mb": 8192},
    )
    await tree.heartbeat(
        "linux-gpu",
        "g2",
        capabilities={"os": "linux", "gpu_count": 1, "ssd": False},
        inventory={"ram_mb": 2048},
    )
    await tree.heartbeat(
        "windows",
        "w1",
        capabilities={"os": "windows", "gpu_count": 0, "label": "2"},
        inventory={"ram_mb": 4096},
    )
    for child in ("linux-gpu", "windows", "empty"):
        await tree.add_child("parent", child)
    await tree.poll("parent")
    return tree


SCENARIOS = [
    ("", ["linux-gpu", "windows", "empty"]),
    ("os=linux", ["linux-gpu"]),
    ("os=in:linux,windows", ["linux-gpu", "windows"]),
    ("os=ne:linux", ["windows"]),
    ("region=na", ["linux-gpu", "empty"]),
    ("region=na&os=linux", ["linux-gpu"]),
    ("gpu_count=ge:2", ["linux-gpu"]),
    ("gpu_count=lt:1", ["windows"]),
    ("gpu_count=le:1", ["linux-gpu", "windows"]),
    ("gpu_count=3", ["linux-gpu"]),  # 3 lies within 1..4: a child that may have it
    ("gpu_count=eq:5", []),
    ("gpu_count=ne:0", ["linux-gpu"]),
    ("ssd=true", ["linux-gpu"]),
    ("ssd=false", ["linux-gpu"]),
    ("label=2", ["windows"]),
    ("ram_mb.free.max=ge:4096", ["linux-gpu", "windows"]),
    ("ram_mb.free.max=gt:4096", ["linux-gpu"]),
    ("ram_mb.free.sum=ge:10240", ["linux-gpu"]),
    ("ram_mb.free.sum=lt:5000", ["windows"]),
    ("state=online", ["linux-gpu", "windows", "empty"]),
    ("state=offline", []),
    ("nonexistent=x", []),
]


async def test_children_filtered_by_capability(polled_tree: Tree) -> None:
    # One tree serves the whole table: building it is what costs.
    wrong = []
    for query, expected in SCENARIOS:
        answer = await polled_tree.admins["parent"].call("GET", f"/zones?{query}")
        names = [zone["name"] for zone in answer.body["zones"]] if answer.status == 200 else None
        if names != expected:
            wrong.append((query, expected, answer.status, names))
    assert wrong == []


async def test_a_disabled_child_filters_by_state(polled_tree: Tree) -> None:
    child_id = polled_tree.child_ids[("parent", "windows")]
    admin = polled_tree.admins["parent"]
    await admin.call("PUT", f"/zones/{child_id}", json_body={"zone": {"enabled": False}})
    disabled = await admin.call("GET", "/zones?state=disabled")
    assert [zone["name"] for zone in disabled.body["zones"]] == ["windows"]
    online = await admin.call("GET", "/zones?state=online")
    assert [zone["name"] for zone in online.body["zones"]] == ["linux-gpu", "empty"]


MALFORMED = [
    ("gpu_count=ge:many", "gpu_count"),
    ("ram_mb.free.max=lots", "ram_mb.free.max"),
    ("ram_mb.free.max=ne:1", "ram_mb.free.max"),
    ("state=sleepy", "state"),
    ("Bad-Key=1", "Bad-Key"),
    ("os%0A=linux", "os\n"),
]


async def test_a_malformed_filter_is_400_naming_the_parameter(polled_tree: Tree) -> None:
    for query, named in MALFORMED:
        answer = await polled_tree.admins["parent"].call("GET", f"/zones?{query}")
        assert answer.status == 400, query
        assert answer.problem["detail"].startswith(f"{named}:"), (query, answer.problem)
