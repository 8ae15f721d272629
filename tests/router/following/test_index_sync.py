"""Instances made by entering below a zone reach its client index with the next poll."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import update

from tests.conftest import ZoneStarter
from tests.harness import Api
from tests.router.instances.test_moves import build, create, lookup
from zones.node.appkeys import SESSIONS
from zones.node.database import utcnow
from zones.router.following import index_sync
from zones.router.index.models import ClientIndex


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


async def test_a_child_added_with_instances_already_below_it_is_learnt_with_the_first_poll(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """Regression: zone-add kept the probe's `clients_changed_at`, so the first poll saw
    nothing new and the child's clients were never fetched."""
    tree = await build(http, zones)
    root = await Api(http, tree.zones["root"].url).as_user("alice", "alice-pw")
    await create(root, "kept", "dc-a")
    removed = await tree.admins["root"].call("DELETE", f"/zones/{tree.child_ids[('root', 'r1')]}")
    assert removed.status == 204, removed
    assert await lookup(tree) is None

    await tree.add_child("root", "r1", weight_offset=1.0)
    await tree.poll("root")
    assert await lookup(tree) == ("dc-a", ["root", "r1", "dc-a"])


async def test_a_child_moved_to_another_zones_address_is_learnt_afresh(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """What the zone at the old address said, and how far it was fetched, no longer count."""
    tree = await build(http, zones)
    root = await Api(http, tree.zones["root"].url).as_user("alice", "alice-pw")
    await create(root, "in-a", "dc-a")
    in_c = await create(root, "in-c", "dc-c")  # r2 changes after r1 did
    assert (await root.call("DELETE", f"/instances/{in_c['id']}")).status == 204
    await tree.poll("root")
    admin = tree.admins["root"]
    assert (await admin.call("DELETE", f"/zones/{tree.child_ids[('root', 'r1')]}")).status == 204
    assert await lookup(tree) is None

    # The entry that was r2 now points at r1, whose index changed before r2's did.
    moved = await admin.call(
        "PUT",
        f"/zones/{tree.child_ids[('root', 'r2')]}",
        json_body={"zone": {"api_url": tree.zones["r1"].url, "name": "r1"}},
    )
    assert moved.status == 200, moved
    await tree.poll("root")
    assert await lookup(tree) == ("dc-a", ["root", "r1", "dc-a"])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("after=yesterday,acme", "after"),
        ("after=2026-11-21T10:00:00,acme", "after"),  # no time zone
        ("after=2026-11-21T10:00:00Z", "after"),  # no comma
        ("after=2026-11-21T10:00:00%2B00:00,ACME!", "after"),
        ("after=0001-01-01T00:00:00%2B14:00,acme", "after"),  # before year 1 in UTC
        ("after=9999-12-31T23:59:59-14:00,acme", "after"),  # after year 9999 in UTC
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
    ],
)
async def test_bad_change_queries_are_400_naming_the_parameter(
    http: aiohttp.ClientSession, zones: ZoneStarter, query: str, field: str
) -> None:
    zone = await zones("solo")
    admin = await Api(http, zone.url).as_user()
    refused = await admin.call("GET", f"/auth/lookup/changes?{query}")
    assert refused.status == 400, refused
    assert refused.problem["detail"].startswith(f"{field}:"), refused.problem
    member = {"name": "m", "password": "m-pw", "client": "acme", "roles": ["member"]}
    assert (await admin.call("POST", "/users", json_body={"user": member})).status == 201
    as_member = await Api(http, zone.url).as_user("m", "m-pw")
    assert (await as_member.call("GET", "/auth/lookup/changes")).status == 403


async def test_changes_stamped_at_one_moment_are_all_fetched_page_by_page(
    http: aiohttp.ClientSession, zones: ZoneStarter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: pages followed `changed_at >= last`, so a full page of changes stamped at
    one moment (as migration 0003 stamps existing rows) was fetched again forever."""
    monkeypatch.setattr(index_sync, "CHANGES_PAGE", 2)
    tree = await build(http, zones)
    admin_c = tree.admins["dc-c"]
    clients = [f"c{n}" for n in range(4)]  # dc-c has room for four
    for client in clients:
        user = {"name": client, "password": "pw", "client": client, "roles": ["member"]}
        assert (await admin_c.call("POST", "/users", json_body={"user": user})).status == 201
        api = await Api(http, tree.zones["dc-c"].url).as_user(client, "pw")
        await create(api, "x", "dc-c")
    async with tree.zones["dc-c"].app[SESSIONS].begin() as session:
        await session.execute(update(ClientIndex).values(changed_at=utcnow()))
    await tree.poll("r2", "root")
    for client in clients:
        assert await lookup(tree, client) == ("dc-c", ["root", "r2", "dc-c"]), client


async def test_removing_a_child_that_held_a_client_reaches_the_parents_above(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """Regression: the child's index entries went with it (cascade) without a change being
    stamped, so the zones above never fetched the new answer."""
    tree = await build(http, zones)
    root = await Api(http, tree.zones["root"].url).as_user("alice", "alice-pw")
    await create(root, "x", "dc-a")
    assert await lookup(tree) == ("dc-a", ["root", "r1", "dc-a"])
    removed = await tree.admins["r1"].call("DELETE", f"/zones/{tree.child_ids[('r1', 'dc-a')]}")
    assert removed.status == 204, removed
    await tree.poll("root")
    # r1 now says it manages nothing of acme's; the root still maps the instance to r1 (it
    # cannot know the instance was cut off), so r1 itself is its answer: never dc-a, which
    # is no longer in this tree.
    assert await lookup(tree) == ("r1", ["root", "r1"])
