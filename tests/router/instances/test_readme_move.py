"""The README's admin move, as written there: it keeps the instance's own requirements, so a
Windows database moved into a data centre lands on its Windows host, not on its bigger
Linux one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import ZoneStarter
from tests.router.tree import Tree

README = Path(__file__).resolve().parents[3] / "README.md"
WINDOWS = {"capabilities": {"os": "windows"}, "inventory": {"ram_mb": 32768}, "ttl": 3600}
BIG_LINUX = {"capabilities": {"os": "linux"}, "inventory": {"ram_mb": 262144}, "ttl": 3600}


def readme_admin_move() -> dict[str, Any]:
    """The body of the README's move that names a zone."""
    bodies = re.findall(r"-d '(\{\"move\": \{\"zone\": [^']*\})'", README.read_text())
    assert len(bodies) == 1, bodies
    body: dict[str, Any] = json.loads(bodies[0])
    return body


async def demo_like_region(http: aiohttp.ClientSession, zones: ZoneStarter) -> Tree:
    """na > (na-dc1, na-dc2), each data centre with a Windows host and a bigger Linux one."""
    tree = Tree(http)
    na = await tree.start(zones, "na", zone={"capabilities": {"region": "na"}})
    for dc in ("na-dc1", "na-dc2"):
        await tree.start(zones, dc, auth={"trusted_issuers": [na.url]})
        await tree.heartbeat(dc, f"{dc}-win-1", **WINDOWS)
        await tree.heartbeat(dc, f"{dc}-linux-1", **BIG_LINUX)
        await tree.add_child("na", dc)
    await tree.poll("na")
    return tree


async def test_the_readmes_admin_move_keeps_os_windows(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    body = readme_admin_move()
    assert "requirements" not in body["move"], body
    tree = await demo_like_region(http, zones)
    admin = tree.admins["na"]
    requirements = {"region": "na", "os": "windows"}
    made = await admin.call(
        "POST",
        "/instances",
        json_body={"instance": {"name": "db-1", "requirements": requirements}},
    )
    assert made.status == 201, made
    instance = made.body["instance"]
    if instance["zone"] == body["move"]["zone"]:  # start in the other data centre
        moved = await admin.call(
            "POST", f"/instances/{instance['id']}/move", json_body={"move": {"zone": "na-dc1"}}
        )
        assert moved.status == 200, moved
    moved = await admin.call("POST", f"/instances/{instance['id']}/move", json_body=body)
    assert moved.status == 200, moved
    placed = moved.body["instance"]
    assert (placed["zone"], placed["host"]) == ("na-dc2", "na-dc2-win-1")
    assert placed["requirements"] == requirements
