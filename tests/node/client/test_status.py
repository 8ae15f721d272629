"""`zones status` reads the live zones, not the topology file: a child added through the API
shows up, a zone that does not answer is `down`; and a list names the zones it could not ask.

The zones run in this test; `<state-dir>/topology.json` is written by hand the way
`zones up` writes it, and the command runs as its own process.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import ADMIN_PASSWORD
from tests.node.client.running import zones_cli, zones_process
from tests.router.tree import Tree


def topology_json(state_dir: Path, tree: Tree, children: dict[str, list[str]]) -> None:
    zones = {
        name: {
            "url": zone.url,
            "admin_username": "admin",
            "admin_password": ADMIN_PASSWORD,
            "pid": None,
            "roots": name == "root",
            "children": children.get(name, []),
            "external": False,
        }
        for name, zone in tree.zones.items()
    }
    state_dir.mkdir()
    (state_dir / "topology.json").write_text(json.dumps({"zones": zones, "host_agent_pid": None}))


async def test_status_shows_the_live_children_and_a_zone_that_does_not_answer(
    http: aiohttp.ClientSession,
    zones: ZoneStarter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tree = Tree(http)
    root = await tree.start(zones, "root")
    for name in ("a", "b"):
        await tree.start(zones, name, auth={"trusted_issuers": [root.url]})
    await tree.heartbeat("a", "a-host", inventory={"ram_mb": 64}, ttl=600)
    await tree.heartbeat(
        "b", "b-host", capabilities={"site": "b"}, inventory={"ram_mb": 64}, ttl=600
    )
    await tree.add_child("root", "a")
    await tree.add_child("root", "b")
    await tree.poll("root")
    work = {"name": "on-b", "requirements": {"site": "b"}}
    made = await tree.admins["root"].call("POST", "/instances", json_body={"instance": work})
    assert (made.status, made.body["instance"]["zone"]) == (201, "b"), made
    state = tmp_path / "state"
    topology_json(state, tree, {"root": ["a", "b"]})
    late = await tree.start(zones, "late")  # added with the API only: not in the file
    await tree.add_child("a", "late")
    await tree.poll("a")

    ran = await zones_process("status", "--state-dir", str(state))
    assert ran.code == 0, ran
    assert ran.lines[0].split() == ["NAME", "URL", "STATE", "CHILDREN", "HOSTS"]
    assert ran.row("root") == ["root", tree.zones["root"].url, "online", "a, b", "2"]
    assert ran.row("a") == ["a", tree.zones["a"].url, "online", "late", "1"]
    assert ran.row("late") == ["late", late.url, "online", "-", "0"]
    assert [line.split()[0] for line in ran.lines[1:]] == ["root", "a", "b", "late"]

    await tree.zones["b"].stop()
    ran = await zones_process("status", "--state-dir", str(state))
    assert ran.code == 1, ran
    assert ran.row("b") == ["b", tree.zones["b"].url, "down", "-", "-"]
    assert ran.row("root")[2] == "online" and ran.row("late")[2] == "online"
    as_json = await zones_cli("--json", "status", "--state-dir", str(state))
    rows = {row["name"]: row for row in json.loads(as_json.out)["zones"]}
    assert (rows["b"]["state"], rows["a"]["children"]) == ("down", ["late"])

    monkeypatch.setenv("ZONES_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("ZONES_PASSWORD", ADMIN_PASSWORD)
    assert (await zones_cli("login", tree.zones["root"].url, "--username", "admin")).code == 0
    listed = await zones_cli("instances", "list", "--all-clients")
    assert listed.code == 0, listed
    assert listed.row(made.body["instance"]["id"])[1:4] == ["on-b", "admin", "UNKNOWN"], listed
    assert listed.err == "zones: unreachable zones (their instances may be missing or UNKNOWN): b\n"


async def test_status_without_a_deployment_says_so(tmp_path: Path) -> None:
    ran = await zones_cli("status", "--state-dir", str(tmp_path))
    assert (ran.code, ran.err) == (1, f"zones: {tmp_path}: no deployment here (no topology.json)\n")
