"""Instances through a real tree: placement, weights, failover, faults, mappings, lists, loops."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import delete

from tests.conftest import ZoneStarter
from tests.harness import Api
from tests.router.fake_child import AppServer, serve_app, zone_info_body
from tests.router.tree import Tree
from zones.node.appkeys import SESSIONS, ZONE_UUID
from zones.node.logs import JsonLines
from zones.router.instances.appkeys import ROUTING_CACHE
from zones.router.instances.models import InstanceMapping

__all__ = ["serve_app"]  # a fixture, used by name
MEMBERS = ({"name": "alice", "client": "acme"}, {"name": "bob", "client": "globex"})


async def build(http: aiohttp.ClientSession, zones: ZoneStarter, **weights: float) -> Tree:
    """root > dc-linux (region na) > huddle (gpu host); root > dc-windows; members at root."""
    tree = Tree(http)
    root = await tree.start(zones, "root")
    trust = {"trusted_issuers": [root.url]}
    await tree.start(zones, "dc-linux", zone={"capabilities": {"region": "na"}}, auth=trust)
    await tree.start(zones, "dc-windows", zone={"capabilities": {"region": "eu"}}, auth=trust)
    await tree.start(zones, "huddle", auth=trust)
    await tree.heartbeat("dc-linux", "l1", capabilities={"os": "linux"}, inventory={"ram_mb": 4096})
    await tree.heartbeat(
        "dc-windows", "w1", capabilities={"os": "windows"}, inventory={"ram_mb": 8192}
    )
    await tree.heartbeat(
        "huddle", "g1", capabilities={"os": "linux", "gpu_count": 8}, inventory={"ram_mb": 2048}
    )
    await tree.add_child("dc-linux", "huddle")
    await tree.add_child("root", "dc-linux", weight_offset=weights.get("dc-linux", 0.0))
    await tree.add_child("root", "dc-windows", weight_offset=weights.get("dc-windows", 0.0))
    await tree.poll("dc-linux", "root")
    for member in MEMBERS:
        user = {**member, "password": f"{member['name']}-pw"}
        assert (
            await tree.admins["root"].call("POST", "/users", json_body={"user": user})
        ).status == 201
    return tree


async def member(tree: Tree, name: str) -> Api:
    return await Api(tree.http, tree.zones["root"].url).as_user(name, f"{name}-pw")


def create(name: str, **fields: Any) -> dict[str, Any]:
    return {"instance": {"name": name, **fields}}


async def test_placement_follows_requirements_down_the_tree(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    alice = await member(tree, "alice")

    windows = await alice.call(
        "POST", "/instances", json_body=create("w", requirements={"os": "windows"})
    )
    assert windows.status == 201, windows
    placed = windows.body["instance"]
    assert (placed["zone"], placed["path"], placed["host"]) == (
        "dc-windows",
        ["root", "dc-windows"],
        "w1",
    )

    gpu = await alice.call(
        "POST", "/instances", json_body=create("g", requirements={"gpu_count": {"ge": 4}})
    )
    assert gpu.body["instance"]["path"] == ["root", "dc-linux", "huddle"]
    big = await alice.call("POST", "/instances", json_body=create("b", resources={"ram_mb": 6000}))
    assert big.body["instance"]["zone"] == "dc-windows"  # only there is one host with 6000 free
    na = await alice.call(
        "POST", "/instances", json_body=create("n", requirements={"region": "na"})
    )
    assert na.body["instance"]["zone"] in ("dc-linux", "huddle")

    for instance in (placed, gpu.body["instance"]):
        shown = await alice.call("GET", f"/instances/{instance['id']}")
        assert shown.body["instance"] == instance
    listed = (await alice.call("GET", "/instances")).body
    assert {i["id"] for i in listed["instances"]} == {
        placed["id"],
        gpu.body["instance"]["id"],
        big.body["instance"]["id"],
        na.body["instance"]["id"],
    }
    assert listed["unreachable_zones"] == []

    assert (await alice.call("DELETE", f"/instances/{gpu.body['instance']['id']}")).status == 204
    huddle_admin = tree.admins["huddle"]
    assert (await huddle_admin.call("GET", "/hosts")).body["hosts"][0]["free"] == {"ram_mb": 2048.0}
    assert (await alice.call("GET", f"/instances/{gpu.body['instance']['id']}")).status == 404


async def test_nothing_fits_anywhere_is_kept_at_the_root_with_every_reason(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    alice = await member(tree, "alice")
    made = await alice.call(
        "POST", "/instances", json_body=create("x", resources={"ram_mb": 100000})
    )
    instance = made.body["instance"]
    assert (made.status, instance["status"], instance["zone"], instance["path"]) == (
        201,
        "ERROR",
        "root",
        ["root"],
    )
    assert "root:" in instance["fault"]["message"]
    listed = (await alice.call("GET", "/instances")).body["instances"]
    assert [i["id"] for i in listed] == [instance["id"]]
    for zone in ("dc-linux", "dc-windows", "huddle"):
        below = await tree.admins[zone].call("GET", "/instances?all_clients=true")
        assert below.body["instances"] == []  # nothing was left half-made below


async def test_higher_weight_wins_and_a_failing_child_passes_to_the_next(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones, **{"dc-windows": 10.0})
    alice = await member(tree, "alice")
    first = await alice.call("POST", "/instances", json_body=create("a", resources={"ram_mb": 100}))
    assert first.body["instance"]["zone"] == "dc-windows"

    await tree.zones["dc-windows"].stop()  # the root has not noticed: it still looks online
    second = await alice.call(
        "POST", "/instances", json_body=create("b", resources={"ram_mb": 100})
    )
    assert second.status == 201
    assert second.body["instance"]["zone"] in ("dc-linux", "huddle")


async def test_a_retry_through_the_root_returns_the_same_instance(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    alice = await member(tree, "alice")
    body = create("once", id=str(uuid.uuid4()), requirements={"os": "windows"})
    answers = await asyncio.gather(
        *(alice.call("POST", "/instances", json_body=body) for _ in range(4))
    )
    assert {answer.status for answer in answers} == {201}
    assert len({answer.body["instance"]["id"] for answer in answers}) == 1
    below = await tree.admins["dc-windows"].call("GET", "/instances?all_clients=true")
    assert len(below.body["instances"]) == 1
    other = create("other", id=body["instance"]["id"], requirements={"os": "windows"})
    assert (await alice.call("POST", "/instances", json_body=other)).status == 409


async def test_members_are_isolated_at_every_zone(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    alice, bob = await member(tree, "alice"), await member(tree, "bob")
    mine = (
        await alice.call(
            "POST", "/instances", json_body=create("a", requirements={"os": "windows"})
        )
    ).body
    instance_id = mine["instance"]["id"]
    assert (await bob.call("GET", f"/instances/{instance_id}")).status == 404
    assert (await bob.call("DELETE", f"/instances/{instance_id}")).status == 404
    assert (await bob.call("GET", "/instances")).body["instances"] == []
    # Bob's root token, sent straight to the child that holds it: still only his client.
    direct = Api(http, tree.zones["dc-windows"].url, bob.token)
    assert (await direct.call("GET", f"/instances/{instance_id}")).status == 404
    assert (await alice.call("GET", f"/instances/{instance_id}")).status == 200


async def test_a_child_refuses_a_caller_token_from_an_issuer_it_does_not_trust(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    stranger = await tree.start(zones, "stranger")  # trusts only itself
    token = (await Api(http, tree.zones["root"].url).as_user("alice", "alice-pw")).token
    answer = await Api(http, stranger.url, token).call("GET", "/instances")
    assert answer.status == 401
    assert "not trusted" in answer.problem["detail"]


async def test_a_missing_mapping_is_found_by_asking_and_repaired(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    alice = await member(tree, "alice")
    made = (
        await alice.call(
            "POST", "/instances", json_body=create("a", requirements={"os": "windows"})
        )
    ).body
    instance_id = made["instance"]["id"]
    sessions = tree.zones["root"].app[SESSIONS]
    async with sessions.begin() as session:
        await session.execute(delete(InstanceMapping))  # the root forgot where it lives
    tree.zones["root"].app[ROUTING_CACHE].forget(instance_id)  # as after a restart

    found = await alice.call("GET", f"/instances/{instance_id}")
    assert found.status == 200 and found.body["instance"]["path"] == ["root", "dc-windows"]
    async with sessions.begin() as session:
        assert await session.get(InstanceMapping, instance_id) is not None  # repaired
    assert (await alice.call("DELETE", f"/instances/{instance_id}")).status == 204


async def test_a_request_that_comes_back_is_refused_with_508(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    admin = tree.admins["dc-linux"]
    own = tree.zones["dc-linux"].app[ZONE_UUID]
    looped = await admin.call(
        "POST",
        "/instances",
        json_body=create("x"),
        headers={"X-Zones-Path": f"{uuid.uuid4()},{own}"},
    )
    assert looped.status == 508
    long_path = ",".join(str(uuid.uuid4()) for _ in range(16))
    too_far = await admin.call("GET", "/instances", headers={"X-Zones-Path": long_path})
    assert too_far.status == 508
    assert (await admin.call("GET", "/instances?all_clients=true")).body["instances"] == []


async def test_paging_through_the_tree_visits_every_instance_once_in_order(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    alice = await member(tree, "alice")
    requirements = [{"os": "windows"}, {"gpu_count": {"ge": 1}}, {"os": "linux"}, {}]
    made = []
    for index in range(9):
        body = create(f"i{index}", requirements=requirements[index % 4])
        made.append((await alice.call("POST", "/instances", json_body=body)).body["instance"]["id"])
    seen: list[str] = []
    marker = None
    while True:
        page = (
            await alice.call("GET", "/instances?limit=4" + (f"&marker={marker}" if marker else ""))
        ).body
        seen += [i["id"] for i in page["instances"]]
        marker = page["next_marker"]
        if marker is None:
            break
    assert seen == made


@pytest.mark.parametrize("poll_first", [True, False], ids=["known offline", "just died"])
async def test_a_down_child_is_named_and_its_instances_listed_as_unknown(
    http: aiohttp.ClientSession, zones: ZoneStarter, poll_first: bool
) -> None:
    tree = await build(http, zones)
    alice = await member(tree, "alice")
    lost = (
        await alice.call(
            "POST", "/instances", json_body=create("w", requirements={"os": "windows"})
        )
    ).body
    kept = (
        await alice.call("POST", "/instances", json_body=create("l", requirements={"os": "linux"}))
    ).body
    await tree.zones["dc-windows"].stop()
    if poll_first:
        await tree.poll("root", "root")  # failures_before_offline = 2

    started = time.monotonic()
    listed = (await alice.call("GET", "/instances")).body
    assert time.monotonic() - started < tree.zones["root"].settings.router.child_timeout + 2
    assert listed["unreachable_zones"] == ["dc-windows"]
    statuses = {i["id"]: i["status"] for i in listed["instances"]}
    assert statuses == {lost["instance"]["id"]: "UNKNOWN", kept["instance"]["id"]: "ACTIVE"}
    shown = await alice.call("GET", f"/instances/{lost['instance']['id']}")
    assert shown.body["instance"]["status"] == "UNKNOWN"
    elsewhere = await alice.call("POST", "/instances", json_body=create("n"))
    assert elsewhere.body["instance"]["status"] == "ACTIVE"


async def test_one_request_id_is_logged_by_every_zone_it_crosses(
    http: aiohttp.ClientSession, zones: ZoneStarter, caplog: pytest.LogCaptureFixture
) -> None:
    tree = await build(http, zones)
    alice = await member(tree, "alice")
    caplog.set_level(logging.INFO, logger="zones.access")
    made = await alice.call(
        "POST",
        "/instances",
        json_body=create("traced", requirements={"gpu_count": {"ge": 1}}),
        headers={"X-Request-Id": "trace-create-1"},
    )
    assert made.body["instance"]["path"] == ["root", "dc-linux", "huddle"]
    lines = [json.loads(JsonLines().format(record)) for record in caplog.records]
    crossed = [line["zone"] for line in lines if line["request_id"] == "trace-create-1"]
    assert sorted(set(crossed)) == ["dc-linux", "huddle", "root"]


def hanging_child(instance: dict[str, Any]) -> web.Application:
    """A zone-like server that placed one instance, then stops answering lists."""
    info = zone_info_body(
        name="hangs",
        capabilities={"os": {"type": "string", "values": ["linux"]}},
        free={"ram_mb": {"max": 1.0, "sum": 1.0}},
    )

    async def login(request: web.Request) -> web.Response:
        return web.json_response(
            {"token": "t", "expires_at": "2999-01-01T00:00:00+00:00"}, status=201
        )

    async def zone_info(request: web.Request) -> web.Response:
        return web.json_response(info)

    async def create_one(request: web.Request) -> web.Response:
        asked = (await request.json())["instance"]["id"]  # a zone answers for the id it was given
        return web.json_response({"instance": {**instance, "id": asked}}, status=201)

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(60)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/auth/tokens", login)
    app.router.add_get("/zones/info", zone_info)
    app.router.add_post("/instances", create_one)
    app.router.add_get("/instances", hang)
    return app


async def test_a_child_that_hangs_costs_a_list_no_more_than_child_timeout(
    http: aiohttp.ClientSession, zones: ZoneStarter, serve_app: AppServer
) -> None:
    tree = Tree(http)
    await tree.start(zones, "root", router={"child_timeout": 1.0})
    instance = {
        "id": str(uuid.uuid4()),
        "name": "h",
        "client": "admin",
        "status": "ACTIVE",
        "zone": "hangs",
        "host": "x",
        "path": ["hangs"],
        "requirements": {},
        "resources": {},
        "created_at": "2026-01-01T00:00:00Z",
    }
    url = await serve_app(hanging_child(instance))
    body = {"zone": {"api_url": url, "username": "u", "password": "p"}}
    assert (await tree.admins["root"].call("POST", "/zones", json_body=body)).status == 201
    admin = tree.admins["root"]
    made = await admin.call("POST", "/instances", json_body=create("h"))
    assert made.body["instance"]["zone"] == "hangs"

    started = time.monotonic()
    listed = (await admin.call("GET", "/instances")).body
    assert time.monotonic() - started < 1.0 + 1.5
    assert listed["unreachable_zones"] == ["hangs"]
    assert [(i["id"], i["status"]) for i in listed["instances"]] == [
        (made.body["instance"]["id"], "UNKNOWN")
    ]


async def test_a_requirement_met_by_a_zone_above_is_not_asked_again_below(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    # region = "na" is a static capability of dc-linux only; its huddle knows no region.
    tree = await build(http, zones)
    alice = await member(tree, "alice")
    requirements = {"region": "na", "gpu_count": {"ge": 4}}
    made = await alice.call("POST", "/instances", json_body=create("g", requirements=requirements))
    instance = made.body["instance"]
    assert (instance["status"], instance["path"]) == ("ACTIVE", ["root", "dc-linux", "huddle"])
    assert instance["requirements"] == requirements


async def test_a_child_answering_a_malformed_instance_is_a_502_not_a_500(
    http: aiohttp.ClientSession, zones: ZoneStarter, serve_app: AppServer
) -> None:
    tree = Tree(http)
    await tree.start(zones, "root")
    url = await serve_app(hanging_child({"id": str(uuid.uuid4()), "name": "half"}))
    body = {"zone": {"api_url": url, "username": "u", "password": "p"}}
    assert (await tree.admins["root"].call("POST", "/zones", json_body=body)).status == 201
    made = await tree.admins["root"].call("POST", "/instances", json_body=create("x"))
    assert made.status == 502
    assert "answered with another instance than" in made.problem["detail"]


async def test_x_zones_headers_count_only_with_a_parents_service_token(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    direct = tree.admins["dc-windows"]  # an admin of the zone, but no parent's service token
    sneaky = await direct.call(
        "POST",
        "/instances",
        json_body=create("s", requirements={"region": "na"}),
        headers={"X-Zones-Settled": "region", "X-Zones-Placement": "forwarded"},
    )
    # region "na" is not this zone's: the header did not settle it, and the fault is kept.
    assert sneaky.status == 201
    assert sneaky.body["instance"]["status"] == "ERROR"


@pytest.mark.parametrize(
    "after",
    [
        "2024-01-01T00:00:00,x",
        "0001-01-01T00:00:00+14:00,x",
        "nonsense",
        "2024-01-01T00:00:00Z,no-uuid",
    ],
)
async def test_a_bad_after_parameter_is_400(
    http: aiohttp.ClientSession, zones: ZoneStarter, after: str
) -> None:
    zone = await zones("solo")
    admin = await Api(http, zone.url).as_user()
    answer = await admin.call("GET", f"/instances?after={after}")
    assert answer.status == 400
    assert answer.problem["detail"].startswith("after:")


async def test_concurrent_first_creates_with_one_id_make_one_instance_in_the_tree(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = Tree(http)
    root = await tree.start(zones, "root")
    for name in ("c1", "c2"):
        await tree.start(zones, name, auth={"trusted_issuers": [root.url]})
        await tree.heartbeat(name, f"{name}-h", inventory={"ram_mb": 1000})
        await tree.add_child("root", name)
    await tree.poll("root")
    admin = tree.admins["root"]
    ids = [str(uuid.uuid4()) for _ in range(2)]
    for instance_id in ids:  # the first takes 600 of 1000: a second copy would not fit there
        body = create("one", id=instance_id, resources={"ram_mb": 600})
        answers = await asyncio.gather(
            *(admin.call("POST", "/instances", json_body=body) for _ in range(6))
        )
        assert {answer.status for answer in answers} == {201}
        assert len({answer.body["instance"]["zone"] for answer in answers}) == 1
    held = []
    for name in ("c1", "c2"):
        held += [
            i["id"]
            for i in (await tree.admins[name].call("GET", "/instances?all_clients=true")).body[
                "instances"
            ]
        ]
    assert sorted(held) == sorted(ids)


async def test_a_marker_the_root_has_no_mapping_for_still_pages(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    alice = await member(tree, "alice")
    at_child = Api(http, tree.zones["dc-windows"].url, alice.token)  # entering lower down
    direct = (await at_child.call("POST", "/instances", json_body=create("direct"))).body
    through_root = create("via-root", requirements={"os": "windows"})
    via_root = (await alice.call("POST", "/instances", json_body=through_root)).body
    first = (await alice.call("GET", "/instances?limit=1")).body
    assert [i["id"] for i in first["instances"]] == [direct["instance"]["id"]]
    second = await alice.call("GET", f"/instances?limit=1&marker={first['next_marker']}")
    assert second.status == 200, second
    assert [i["id"] for i in second.body["instances"]] == [via_root["instance"]["id"]]


async def test_instances_made_by_entering_lower_down_are_listed_at_the_root(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    alice = await member(tree, "alice")
    at_child = Api(http, tree.zones["dc-windows"].url, alice.token)
    direct = (await at_child.call("POST", "/instances", json_body=create("direct"))).body
    await tree.poll("root")  # the root learns that dc-windows holds instances
    listed = (await alice.call("GET", "/instances")).body
    assert [i["id"] for i in listed["instances"]] == [direct["instance"]["id"]]
    assert listed["instances"][0]["path"] == ["root", "dc-windows"]
