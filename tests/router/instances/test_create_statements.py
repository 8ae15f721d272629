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


async def create_counted(tree: Tree) -> tuple[Counted, Counted]:
    body = {"instance": {"name": "c", "resources": {"ram_mb": 1}}}
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
    assert (middle.cost, holder.cost) == (
        {"statements": 5, "transactions": 2},
        {"statements": 5, "transactions": 1},
    ), "\n".join(["middle:", *middle.statements, "holder:", *holder.statements])
