"""`zones reindex` after a zone's index was wiped, and the lookup while a rebuild runs."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
from sqlalchemy import delete

from tests.conftest import ZoneStarter
from tests.harness import write_config
from tests.router.instances.test_moves import alice, build, create, lookup
from tests.router.tree import Tree
from zones.node.appkeys import SESSIONS
from zones.node.database import utcnow
from zones.router.children.models import ChildZone
from zones.router.index.appkeys import KEPT_ANSWERS
from zones.router.index.models import ClientChild, ClientIndex, IndexRebuild
from zones.router.instances.appkeys import ROUTING_CACHE
from zones.router.instances.models import InstanceMapping
from zones.router.instances.reindex import mappings_now, replace_mappings


async def wipe_index(tree: Tree, zone: str) -> None:
    """As if the zone came back from a backup taken before any instance existed."""
    async with tree.zones[zone].app[SESSIONS].begin() as session:
        for table in (ClientChild, ClientIndex, InstanceMapping):
            await session.execute(delete(table))
    tree.zones[zone].app[ROUTING_CACHE].forget_all()
    tree.zones[zone].app[KEPT_ANSWERS].forget_all()


async def run_reindex(config: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zones",
        "reindex",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_reindex_rebuilds_a_wiped_index_from_the_children(
    http: aiohttp.ClientSession, zones: ZoneStarter, tmp_path: Path
) -> None:
    tree = await build(http, zones)
    api = await alice(tree)
    in_a = await create(api, "a", "dc-a")
    in_b = await create(api, "b", "dc-b")
    assert await lookup(tree) == ("r1", ["root", "r1"])

    await wipe_index(tree, "root")
    assert await lookup(tree) is None  # the index is wrong now: nothing says acme is here

    # While a rebuild runs, the lookup asks the children instead of the index.
    async with tree.zones["root"].app[SESSIONS].begin() as session:
        session.add(IndexRebuild(id=1, started_at=utcnow()))
    assert await lookup(tree) == ("r1", ["root", "r1"])
    async with tree.zones["root"].app[SESSIONS].begin() as session:
        await session.execute(delete(IndexRebuild))

    # r2 holds nothing of acme's; stopped, it is reported and its (no) mappings kept.
    await tree.zones["r2"].stop()
    config = write_config(tmp_path / "root" / "node.toml", "root", None)
    status, output = await run_reindex(config)
    assert status == 1, output
    assert "root reindexed" in output and "mappings now: 2" in output, output
    assert "unreachable, mappings kept: r2" in output, output

    assert await lookup(tree) == ("r1", ["root", "r1"])
    assert (await tree.admins["root"].call("GET", "/auth/lookup?client=acme")).status == 200
    # The rebuilt mappings lead straight down, and the children's answers were learnt.
    assert (await api.call("GET", f"/instances/{in_a['id']}")).body["instance"]["host"]
    gone = await api.call("DELETE", f"/instances/{in_b['id']}")
    assert gone.status == 204, gone
    assert await lookup(tree) == ("dc-a", ["root", "r1", "dc-a"])
    listed = (await api.call("GET", "/instances")).body
    assert [item["id"] for item in listed["instances"]] == [in_a["id"]]


async def test_reindex_of_a_zone_with_a_bad_config_says_why(tmp_path: Path) -> None:
    status, output = await run_reindex(tmp_path / "missing.toml")
    assert status == 2 and "cannot read" in output, output


async def test_a_mapping_changed_while_the_rebuild_listed_is_left_as_it_is(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """Regression: the rebuild wrote back what a child had listed even when a move through
    this zone had changed the mapping since, pointing it at the old child again."""
    tree = await build(http, zones)
    api = await alice(tree)
    made = await create(api, "x", "dc-a")
    sessions = tree.zones["root"].app[SESSIONS]
    async with sessions.begin() as session:
        before = await mappings_now(session)
        r1 = await session.get(ChildZone, tree.child_ids[("root", "r1")])
    listed_by_r1 = (await tree.admins["r1"].call("GET", "/instances?all_clients=true")).body
    moved = await api.call(
        "POST",
        f"/instances/{made['id']}/move",
        json_body={"move": {"requirements": {"dc": "dc-c"}}},
    )
    assert moved.status == 200, moved

    async with sessions.begin() as session:
        assert r1 is not None
        await replace_mappings(session, r1, listed_by_r1["instances"], before, "root")
    async with sessions.begin() as session:
        mapping = await session.get(InstanceMapping, made["id"])
        assert mapping is not None and mapping.child_id == tree.child_ids[("root", "r2")]
    assert (await api.call("GET", f"/instances/{made['id']}")).body["instance"]["zone"] == "dc-c"
