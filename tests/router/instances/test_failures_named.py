"""A leaf hung or dead under a healthy middle zone: the zone named is the leaf, its siblings'
instances are listed as they are, and the answer comes within the root's child timeout.

    root ──► mid ──► leaf      (its own process: stopped with SIGSTOP, killed with SIGKILL)
               └───► sibling
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import Api, ZoneProcess, write_config
from tests.router.tree import SERVICE_USER, Tree

CHILD_TIMEOUT = 2.0
MARGIN = 1.0  # what a demanding operator grants beyond the root's child timeout


@dataclass
class Hung:
    tree: Tree
    leaf: ZoneProcess
    on_leaf: str
    on_sibling: str

    @property
    def root(self) -> Api:
        return self.tree.admins["root"]

    def signal_leaf(self, sent: signal.Signals) -> None:
        assert self.leaf.process is not None
        os.kill(self.leaf.process.pid, sent)


@pytest.fixture
async def hung(
    tmp_path: Path, http: aiohttp.ClientSession, zones: ZoneStarter
) -> AsyncIterator[Hung]:
    tree = Tree(http)
    router = {"child_timeout": CHILD_TIMEOUT}
    root = await tree.start(zones, "root", router=router)
    trust = {"trusted_issuers": [root.url]}
    await tree.start(zones, "mid", router=router, auth=trust)
    await tree.start(zones, "sibling", router=router, auth=trust)
    extra = f'trusted_issuers = ["{root.url}"]\n[router]\nchild_timeout = {CHILD_TIMEOUT}'
    leaf = ZoneProcess(write_config(tmp_path / "leaf.toml", "leaf", None, extra=extra))
    try:
        leaf_admin = await Api(http, await leaf.start()).as_user()
        assert (
            await leaf_admin.call("POST", "/users", json_body={"user": SERVICE_USER})
        ).status == 201
        beat = {"host": {"capabilities": {"slot": "a"}, "inventory": {"ram_mb": 64}, "ttl": 600}}
        assert (await leaf_admin.call("PUT", "/hosts/a1", json_body=beat)).status == 200
        await tree.heartbeat("sibling", "b1", capabilities={"slot": "b"}, inventory={"ram_mb": 64})
        body = {
            "api_url": leaf.url,
            "username": SERVICE_USER["name"],
            "password": SERVICE_USER["password"],
        }
        assert (
            await tree.admins["mid"].call("POST", "/zones", json_body={"zone": body})
        ).status == 201
        await tree.add_child("mid", "sibling")
        await tree.add_child("root", "mid")
        await tree.poll("mid", "root")
        on_leaf = await created(tree.admins["root"], "a")
        on_sibling = await created(tree.admins["root"], "b")
        yield Hung(tree, leaf, on_leaf, on_sibling)
    finally:
        if leaf.process is not None and leaf.process.returncode is None:
            leaf.process.send_signal(signal.SIGCONT)
        await leaf.kill()


async def created(root: Api, slot: str) -> str:
    body = {"instance": {"name": f"on-{slot}", "requirements": {"slot": slot}}}
    made = await root.call("POST", "/instances", json_body=body)
    assert made.status == 201 and made.body["instance"]["status"] == "ACTIVE", made
    return str(made.body["instance"]["id"])


async def timed_list(hung: Hung) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    listed = await hung.root.call("GET", "/instances")
    elapsed = time.monotonic() - started
    assert listed.status == 200, listed
    return listed.body, elapsed


async def assert_the_leaf_is_named(hung: Hung) -> None:
    body, elapsed = await timed_list(hung)
    assert elapsed < CHILD_TIMEOUT + MARGIN, f"the list took {elapsed:.2f} s"
    assert body["unreachable_zones"] == ["leaf"]
    statuses = {item["id"]: item["status"] for item in body["instances"]}
    assert statuses == {hung.on_leaf: "UNKNOWN", hung.on_sibling: "ACTIVE"}
    shown = await hung.root.call("GET", f"/instances/{hung.on_leaf}")
    assert shown.status == 200, shown
    assert shown.body["instance"]["status"] == "UNKNOWN"
    assert shown.headers.get("X-Zones-Unreachable") == "leaf"
    sibling = await hung.root.call("GET", f"/instances/{hung.on_sibling}")
    assert sibling.body["instance"]["status"] == "ACTIVE"
    assert "X-Zones-Unreachable" not in sibling.headers


async def test_a_hung_leaf_is_named_and_its_siblings_listed_as_they_are(hung: Hung) -> None:
    hung.signal_leaf(signal.SIGSTOP)
    await assert_the_leaf_is_named(hung)


async def test_a_hung_leaf_the_middle_zone_marked_offline_is_still_the_one_named(
    hung: Hung,
) -> None:
    hung.signal_leaf(signal.SIGSTOP)
    await hung.tree.poll("mid", "mid")  # two failed polls: offline (failures_before_offline)
    leaf_state = (await hung.tree.info("mid"))["children"]
    assert {"name": "leaf", "state": "offline"}.items() <= next(
        child for child in leaf_state if child["name"] == "leaf"
    ).items()
    await assert_the_leaf_is_named(hung)


async def test_a_dead_leaf_is_named_and_its_siblings_listed_as_they_are(hung: Hung) -> None:
    await hung.leaf.kill()
    await assert_the_leaf_is_named(hung)
