"""`[router] strategy` on a real tree: "spread" takes the most free room, "pack" the least
that fits, among a zone's own hosts and among its children alike."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import Api
from tests.router.tree import Tree


async def create(api: Api, name: str, ram_mb: float) -> dict[str, Any]:
    body = {"instance": {"name": name, "resources": {"ram_mb": ram_mb}}}
    answer = await api.call("POST", "/instances", json_body=body)
    assert answer.status == 201, answer
    assert answer.body["instance"]["status"] == "ACTIVE", answer
    return dict(answer.body["instance"])


@pytest.mark.parametrize(
    ("strategy", "hosts"),
    [
        # spread: the most headroom left each time, so the work spreads out
        ("spread", ["large", "large", "small", "large"]),
        # pack: the least headroom that still fits, so the large host stays whole
        ("pack", ["small", "small", "tiny", "small"]),
    ],
)
async def test_own_hosts_are_chosen_by_the_strategy(
    http: aiohttp.ClientSession,
    zones: ZoneStarter,
    database_url: str,
    strategy: str,
    hosts: list[str],
) -> None:
    zone = await zones("dc", database_url, router={"strategy": strategy})
    admin = await Api(http, zone.url).as_user()
    for name, ram in (("tiny", 1024), ("small", 8192), ("large", 16384)):
        beat = {"inventory": {"ram_mb": ram}}
        assert (await admin.call("PUT", f"/hosts/{name}", json_body={"host": beat})).status == 200
    # ram 2048, 2048, 1024, 4096: the tiny host only ever fits the third
    placed = [
        (await create(admin, f"i{n}", ram))["host"]
        for n, ram in enumerate((2048, 2048, 1024, 4096))
    ]
    assert placed == hosts


@pytest.mark.parametrize(
    ("strategy", "children"),
    [
        # spread: always the child with the most free room (18432, 14336, 10240 vs 12288)
        ("spread", ["large", "large", "small", "large"]),
        # pack: the child with the least room that fits, until it is full
        ("pack", ["small", "small", "small", "large"]),
    ],
)
async def test_children_are_chosen_by_the_strategy(
    http: aiohttp.ClientSession, zones: ZoneStarter, strategy: str, children: list[str]
) -> None:
    tree = Tree(http)
    root = await tree.start(zones, "root", router={"strategy": strategy})
    trust = {"trusted_issuers": [root.url]}
    for name, ram in (("small", 12288), ("large", 18432)):
        await tree.start(zones, name, auth=trust)
        await tree.heartbeat(name, f"{name}-1", inventory={"ram_mb": ram})
        await tree.add_child("root", name)
    await tree.poll("root")
    placed = [(await create(tree.admins["root"], f"i{n}", 4096))["zone"] for n in range(4)]
    assert placed == children
