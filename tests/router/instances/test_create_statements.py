"""What one create asks of each zone's database on its way: statements and transactions.

The budgets are exact, so that a change that adds a statement to the hot path
says so here. A three-zone chain: the create enters at `top`, crosses `middle`
and is placed at `holder`, on its one host.
"""

from __future__ import annotations

import aiohttp

from tests.conftest import ZoneStarter
from tests.router.tree import Tree
from tests.statements import Counted, counting

# Memory's copies are not read again during the test: what is counted is one create's own.
STEADY = {"reread_interval": 3600.0}


async def chain(http: aiohttp.ClientSession, zones: ZoneStarter) -> Tree:
    tree = Tree(http)
    top = await tree.start(zones, "top", router=STEADY)
    trust = {"trusted_issuers": [top.url]}
    await tree.start(zones, "middle", auth=trust, router=STEADY)
    await tree.start(zones, "holder", auth=trust, router=STEADY)
    await tree.heartbeat("holder", "h1", capabilities={"os": "linux"}, inventory={"ram_mb": 4096})
    await tree.add_child("middle", "holder")
    await tree.add_child("top", "middle")
    await tree.poll("middle", "top")
    return tree


SUPPLIED = "2f0c6a3e-6d1b-4c57-9a43-5b7e3f0d9c21"


def body_with(instance_id: str | None = None) -> dict[str, object]:
    instance: dict[str, object] = {"name": "c", "resources": {"ram_mb": 1}}
    if instance_id is not None:
        instance["id"] = instance_id
    return {"instance": instance}


async def create_counted(tree: Tree, instance_id: str | None = None) -> tuple[Counted, Counted]:
    body = body_with(instance_id)
    with counting(tree.zones["middle"]) as middle, counting(tree.zones["holder"]) as holder:
        made = await tree.admins["top"].call("POST", "/instances", json_body=body)
    assert made.status == 201, made
    assert made.body["instance"]["zone"] == "holder"
    return middle, holder


async def test_a_create_costs_each_zone_on_its_path_a_fixed_number_of_statements(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await chain(http, zones)
    await create_counted(tree)  # the first: index rows made, memory's copies read
    middle, holder = await create_counted(tree)
    # An id made where the create entered is new everywhere: no zone looks for an earlier
    # attempt. The middle zone writes its mapping and index delta and reads the answer it
    # sends up; the holder takes the room, writes the instance and the delta, moves the
    # client's resource sums (the usage quotas count, read under the delta's lock), and reads.
    # Then each reads, in a second transaction, the counts its info shows, for the summary
    # its answer carries up (X-Zones-Summary).
    assert (middle.cost, holder.cost) == (
        {"statements": 5, "transactions": 2},
        {"statements": 6, "transactions": 2},
    ), "\n".join(["middle:", *middle.statements, "holder:", *holder.statements])


async def test_a_create_with_its_own_id_also_looks_for_an_earlier_attempt(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """A caller's id may have been sent before (a retry): each zone looks for it first, one
    statement more, and a retry answers what the first attempt made."""
    tree = await chain(http, zones)
    await create_counted(tree)
    middle, holder = await create_counted(tree, instance_id=SUPPLIED)
    assert (middle.cost, holder.cost) == (
        {"statements": 6, "transactions": 3},
        {"statements": 7, "transactions": 2},
    ), "\n".join(["middle:", *middle.statements, "holder:", *holder.statements])
    first = await tree.admins["top"].call("GET", f"/instances/{SUPPLIED}")
    again = await tree.admins["top"].call("POST", "/instances", json_body=body_with(SUPPLIED))
    assert again.status == 201 and again.body["instance"] == first.body["instance"], again


async def test_a_caller_cannot_declare_its_own_id_fresh(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """`X-Zones-Fresh-Id` counts only from a parent: a caller sending it with a retry still
    gets what the first attempt made, and each zone still looks for it."""
    tree = await chain(http, zones)
    headers = {"X-Zones-Fresh-Id": "1"}
    top = tree.admins["top"]
    first = await top.call("POST", "/instances", json_body=body_with(SUPPLIED), headers=headers)
    assert first.status == 201, first
    with counting(tree.zones["middle"]) as middle:
        again = await top.call("POST", "/instances", json_body=body_with(SUPPLIED), headers=headers)
    assert again.status == 201 and again.body["instance"] == first.body["instance"], again
    assert middle.statements and middle.statements[0].startswith("SELECT"), middle.statements
    listed = (await top.call("GET", "/instances")).body["instances"]
    assert [item["id"] for item in listed] == [SUPPLIED]
