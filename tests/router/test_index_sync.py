"""Instances made by entering below a zone reach its client index with the next poll."""

from __future__ import annotations

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Api
from tests.router.test_moves import build, create, lookup


async def test_creates_and_deletes_made_lower_down_reach_the_root_with_the_polls(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    root = await Api(http, tree.zones["root"].url).as_user("alice", "alice-pw")
    made_at_root = await create(root, "top", "dc-a")
    assert await lookup(tree) == ("dc-a", ["root", "r1", "dc-a"])

    # alice's root token works at dc-b, which she reaches directly: the root never sees it.
    at_dc_b = Api(http, tree.zones["dc-b"].url, root.token)
    made_below = await create(at_dc_b, "below", "dc-b")
    assert made_below["path"] == ["dc-b"]
    assert await lookup(tree) == ("dc-a", ["root", "r1", "dc-a"])  # not yet polled

    await tree.poll("r1", "root")
    assert await lookup(tree) == ("r1", ["root", "r1"])
    listed = (await root.call("GET", "/instances")).body["instances"]
    assert {item["id"] for item in listed} == {made_at_root["id"], made_below["id"]}

    # Deleted where it was made: after the polls the root points at dc-a again.
    assert (await at_dc_b.call("DELETE", f"/instances/{made_below['id']}")).status == 204
    await tree.poll("r1", "root")
    assert await lookup(tree) == ("dc-a", ["root", "r1", "dc-a"])

    # And a client only ever seen below: 404 before the polls, found after.
    admin_at_dc_c = tree.admins["dc-c"]
    beta = {"name": "bea", "password": "bea-pw", "client": "beta", "roles": ["member"]}
    assert (await admin_at_dc_c.call("POST", "/users", json_body={"user": beta})).status == 201
    bea = await Api(http, tree.zones["dc-c"].url).as_user("bea", "bea-pw")
    await create(bea, "lone", "dc-c")
    assert await lookup(tree, "beta") is None
    await tree.poll("r2", "root")
    assert await lookup(tree, "beta") == ("dc-c", ["root", "r2", "dc-c"])
