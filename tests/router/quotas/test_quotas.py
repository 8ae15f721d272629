"""Quotas on a real tree: set at the root or lower, held by concurrent creates, down zones.

Usage comes from the client index alone (this zone's own instances and each
child's last report), so a zone that is down still counts as it last told.
"""

from __future__ import annotations

import asyncio

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Api
from tests.router.quotas.tree import create, quota_tree, refused_by_quota, set_quota


async def test_ten_concurrent_creates_at_a_quota_of_three_make_exactly_three(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str
) -> None:
    tree, member = await quota_tree(http, zones, root_database=database_url)
    root = tree.admins["root"]
    await set_quota(root, "acme", instances=3)
    answers = await asyncio.gather(*(create(member, f"c{n}") for n in range(10)))
    made = [answer for answer in answers if answer.status == 201]
    assert len(made) == 3, [answer.status for answer in answers]
    for answer in answers:
        if answer.status != 201:
            problem = refused_by_quota(answer)
            assert problem["limit"] == {"instances": 3, "resources": {}}, problem
            assert problem["usage"]["instances"] == 3, problem
            assert problem["detail"] == (
                "quota of client acme at zone root: instances 3, in use 3"
            ), problem
    shown = await member.call("GET", "/quotas/acme")
    assert shown.status == 200, shown
    assert shown.body["quota"] == {
        "client": "acme",
        "instances": 3,
        "resources": {},
        "usage": {"instances": 3, "resources": {"ram_mb": 3072.0}},
    }
    gone = await member.call("DELETE", f"/instances/{made[0].body['instance']['id']}")
    assert gone.status == 204, gone
    assert (await create(member, "after-delete")).status == 201
    refused_by_quota(await create(member, "one-too-many"))


async def test_a_down_child_still_counts_as_it_last_reported(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str
) -> None:
    tree, member = await quota_tree(http, zones, root_database=database_url)
    await set_quota(tree.admins["root"], "acme", instances=3)
    for name, rack in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        made = await create(member, name, rack)
        assert made.status == 201, made
        assert made.body["instance"]["zone"] == f"leaf{'1' if rack == 'a' else '2'}", made
    await tree.zones["leaf1"].stop()
    await tree.poll("mid", "mid", "root")  # failures_before_offline = 2: leaf1 is offline
    leaf1 = await tree.child("mid", "leaf1")
    assert leaf1["state"] == "offline", leaf1
    problem = refused_by_quota(await create(member, "b2", "b"))
    assert problem["usage"]["instances"] == 3, problem
    shown = await tree.admins["root"].call("GET", "/quotas/acme")
    assert shown.body["quota"]["usage"]["instances"] == 3, shown


async def test_a_quota_on_a_resource_holds_concurrent_creates_too(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str
) -> None:
    tree, member = await quota_tree(http, zones, root_database=database_url)
    quota = await set_quota(tree.admins["root"], "acme", resources={"ram_mb": 10000})
    assert quota == {
        "client": "acme",
        "instances": None,
        "resources": {"ram_mb": 10000.0},
        "usage": {"instances": 0, "resources": {}},
    }
    answers = await asyncio.gather(*(create(member, f"r{n}", ram_mb=4000) for n in range(6)))
    assert sorted(answer.status for answer in answers) == [201, 201, 403, 403, 403, 403]
    problem = refused_by_quota(next(answer for answer in answers if answer.status == 403))
    assert problem["limit"] == {"instances": None, "resources": {"ram_mb": 10000.0}}, problem
    assert problem["usage"] == {"instances": 2, "resources": {"ram_mb": 8000.0}}, problem
    assert "ram_mb 10000, in use 8000, asked 4000" in problem["detail"], problem
    assert (await create(member, "small", ram_mb=2000)).status == 201
    removed = await tree.admins["root"].call("DELETE", "/quotas/acme")
    assert removed.status == 204, removed
    assert (await create(member, "unlimited", ram_mb=4000)).status == 201
    again = await tree.admins["root"].call("DELETE", "/quotas/acme")
    assert again.status == 404, again


async def test_a_quota_at_a_lower_zone_holds_for_what_enters_there(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str
) -> None:
    tree, member = await quota_tree(http, zones, mid_database=database_url)
    await set_quota(tree.admins["mid"], "acme", instances=2)
    at_mid = Api(http, tree.zones["mid"].url, member.token)
    assert (await create(at_mid, "m1")).status == 201
    assert (await create(at_mid, "m2")).status == 201
    problem = refused_by_quota(await create(at_mid, "m3"))
    assert problem["detail"] == "quota of client acme at zone mid: instances 2, in use 2"
    # What the root sends on entered at the root: the root's quota (none) holds for it.
    assert (await create(member, "through-root")).status == 201
    shown = await at_mid.call("GET", "/quotas/acme")
    assert shown.body["quota"]["usage"]["instances"] == 3, shown


async def test_an_instance_kept_in_error_counts_as_an_instance_but_holds_no_room(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree, member = await quota_tree(http, zones)
    await set_quota(tree.admins["root"], "acme", instances=2)
    kept = await create(member, "too-big", ram_mb=1_000_000)  # fits no host: kept in ERROR
    assert kept.status == 201 and kept.body["instance"]["status"] == "ERROR", kept
    # What a create asks for is checked before it is placed: past a resource limit, no ERROR.
    await set_quota(tree.admins["root"], "acme", instances=2, resources={"ram_mb": 5000})
    refused_by_quota(await create(member, "too-big-again", ram_mb=1_000_000))
    shown = await member.call("GET", "/quotas/acme")
    assert shown.body["quota"]["usage"] == {"instances": 1, "resources": {}}, shown
    assert (await create(member, "fits", ram_mb=4000)).status == 201
    problem = refused_by_quota(await create(member, "third", ram_mb=1))
    assert problem["detail"].endswith("instances 2, in use 2"), problem
