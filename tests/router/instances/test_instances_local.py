"""Instances at the zone that holds them: placement on its own hosts, faults, ids, isolation."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import Api, RunningZone


@pytest.fixture
async def alice(http: aiohttp.ClientSession, zone: RunningZone, admin: Api) -> Api:
    """A member of client acme, at a zone with two linux hosts (4096 MB each)."""
    for name in ("alice", "bob"):
        user = {"name": name, "password": f"{name}-pw", "client": f"{name}-corp"}
        assert (await admin.call("POST", "/users", json_body={"user": user})).status == 201
    for host in ("h1", "h2"):
        beat = {"capabilities": {"os": "linux"}, "inventory": {"ram_mb": 4096, "vcpus": 4}}
        assert (await admin.call("PUT", f"/hosts/{host}", json_body={"host": beat})).status == 200
    return await Api(http, zone.url).as_user("alice", "alice-pw")


def create(name: str, **fields: Any) -> dict[str, Any]:
    return {"instance": {"name": name, **fields}}


async def free_ram(admin: Api) -> dict[str, float]:
    hosts = (await admin.call("GET", "/hosts")).body["hosts"]
    return {host["name"]: host["free"]["ram_mb"] for host in hosts}


async def test_an_instance_is_placed_shown_listed_and_deleted(alice: Api, admin: Api) -> None:
    made = await alice.call(
        "POST",
        "/instances",
        json_body=create("web-1", requirements={"os": "linux"}, resources={"ram_mb": 3000}),
    )
    assert made.status == 201, made
    instance = made.body["instance"]
    assert (instance["status"], instance["zone"], instance["path"]) == (
        "ACTIVE",
        "alpha",
        ["alpha"],
    )
    assert instance["client"] == "alice-corp" and instance["host"] in ("h1", "h2")
    assert uuid.UUID(instance["id"]) and instance["resources"] == {"ram_mb": 3000.0}
    assert sorted((await free_ram(admin)).values()) == [1096.0, 4096.0]

    shown = await alice.call("GET", f"/instances/{instance['id']}")
    assert shown.body["instance"] == instance
    listed = await alice.call("GET", "/instances")
    assert listed.body == {"instances": [instance], "next_marker": None, "unreachable_zones": []}
    assert (await admin.call("GET", "/zones/info")).body["zone"]["instances"] == 1

    assert (await alice.call("DELETE", f"/instances/{instance['id']}")).status == 204
    assert await free_ram(admin) == {"h1": 4096.0, "h2": 4096.0}
    assert (await alice.call("GET", f"/instances/{instance['id']}")).status == 404
    assert (await alice.call("DELETE", f"/instances/{instance['id']}")).status == 404


@pytest.mark.parametrize(
    ("fields", "fault"),
    [
        ({"requirements": {"os": "windows"}}, "no live host satisfies"),
        ({"resources": {"ram_mb": 5000}}, "has room for ram_mb 5000"),
        ({"resources": {"gpus": 1}}, "has room for gpus 1"),
        ({"requirements": {"region": "eu"}}, "own capabilities rule"),
    ],
)
async def test_what_nothing_fits_is_kept_with_a_fault(
    http: aiohttp.ClientSession, zones: ZoneStarter, fields: dict[str, Any], fault: str
) -> None:
    zone = await zones("dc", zone={"capabilities": {"region": "na"}})
    admin = await Api(http, zone.url).as_user()
    beat = {"capabilities": {"os": "linux"}, "inventory": {"ram_mb": 4096}}
    await admin.call("PUT", "/hosts/h1", json_body={"host": beat})

    made = await admin.call("POST", "/instances", json_body=create("big", **fields))
    assert made.status == 201
    instance = made.body["instance"]
    assert (instance["status"], instance["host"]) == ("ERROR", None)
    assert fault in instance["fault"]["message"]
    assert await free_ram(admin) == {"h1": 4096.0}
    assert [i["id"] for i in (await admin.call("GET", "/instances")).body["instances"]] == [
        instance["id"]
    ]
    assert (await admin.call("DELETE", f"/instances/{instance['id']}")).status == 204


async def test_a_retry_with_the_same_id_returns_the_same_instance(alice: Api, admin: Api) -> None:
    body = create("once", id=str(uuid.uuid4()), resources={"ram_mb": 1000})
    first = await alice.call("POST", "/instances", json_body=body)
    again = await asyncio.gather(
        *(alice.call("POST", "/instances", json_body=body) for _ in range(5))
    )
    assert first.status == 201 and {answer.status for answer in again} == {201}
    assert all(answer.body == first.body for answer in again)
    assert len((await alice.call("GET", "/instances")).body["instances"]) == 1
    assert sum((await free_ram(admin)).values()) == 8192 - 1000  # taken once

    other = create("other", id=body["instance"]["id"], resources={"ram_mb": 1000})
    refused = await alice.call("POST", "/instances", json_body=other)
    assert refused.status == 409
    assert refused.problem["detail"].startswith("instance.id:")


async def test_members_see_only_their_own_client(
    http: aiohttp.ClientSession, zone: RunningZone, alice: Api, admin: Api
) -> None:
    bob = await Api(http, zone.url).as_user("bob", "bob-pw")
    mine = (await alice.call("POST", "/instances", json_body=create("a"))).body["instance"]
    theirs = (await bob.call("POST", "/instances", json_body=create("b"))).body["instance"]

    assert (await bob.call("GET", f"/instances/{mine['id']}")).status == 404
    assert (await bob.call("DELETE", f"/instances/{mine['id']}")).status == 404
    listed = await bob.call("GET", "/instances?all_clients=true")  # not an admin: own only
    assert [i["id"] for i in listed.body["instances"]] == [theirs["id"]]
    everyone = await admin.call("GET", "/instances?all_clients=true")
    assert {i["id"] for i in everyone.body["instances"]} == {mine["id"], theirs["id"]}
    assert (await admin.call("GET", f"/instances/{mine['id']}")).status == 200
    assert (await alice.call("GET", f"/instances/{mine['id']}")).status == 200


async def test_paging_visits_every_instance_once_in_order(alice: Api) -> None:
    made = [
        (await alice.call("POST", "/instances", json_body=create(f"i{n}"))).body["instance"]
        for n in range(7)
    ]
    seen, marker = [], None
    while True:
        query = "/instances?limit=3" + (f"&marker={marker}" if marker else "")
        page = (await alice.call("GET", query)).body
        seen += page["instances"]
        marker = page["next_marker"]
        if marker is None:
            break
    assert [i["id"] for i in seen] == [i["id"] for i in made]
    ordered = sorted(seen, key=lambda i: (i["created_at"], i["id"]))
    assert seen == ordered


async def test_concurrent_creates_never_overfill_a_host(
    http: aiohttp.ClientSession, zone: RunningZone, admin: Api
) -> None:
    beat = {"capabilities": {"os": "linux"}, "inventory": {"ram_mb": 5000}}
    await admin.call("PUT", "/hosts/only", json_body={"host": beat})
    body = create("burst", resources={"ram_mb": 1000})
    answers = await asyncio.gather(
        *(admin.call("POST", "/instances", json_body=body) for _ in range(20))
    )

    statuses = [answer.body["instance"]["status"] for answer in answers]
    assert {answer.status for answer in answers} == {201}
    assert (statuses.count("ACTIVE"), statuses.count("ERROR")) == (5, 15)
    host = (await admin.call("GET", "/hosts")).body["hosts"][0]
    assert (host["free"], host["allocations"]) == ({"ram_mb": 0.0}, {"ram_mb": 5000.0})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (create("x", requirements={"gpu": {"approx": 1}}), "instance.requirements.gpu"),
        (create("x", requirements={"gpu": {"ge": "many"}}), "instance.requirements.gpu"),
        (create("x", requirements=["os"]), "instance.requirements"),
        (create("x", resources={"ram_mb": -1}), "instance.resources.ram_mb"),
        (create("x", resources={"ram_mb": "lots"}), "instance.resources.ram_mb"),
        (create("x", resources=[1]), "instance.resources"),
        (create("x", id="not-a-uuid"), "instance.id"),
        (create("x" * 256), "instance.name"),
        ({"name": "x"}, "instance"),
        (create("x", extra=1), "instance.extra"),
    ],
)
async def test_a_bad_create_is_400_naming_the_field_and_stores_nothing(
    alice: Api, admin: Api, body: dict[str, Any], field: str
) -> None:
    answer = await alice.call("POST", "/instances", json_body=body)
    assert answer.status == 400, answer
    assert answer.problem["detail"].startswith(f"{field}:"), answer.problem
    assert (await admin.call("GET", "/instances?all_clients=true")).body["instances"] == []
    assert await free_ram(admin) == {"h1": 4096.0, "h2": 4096.0}


@pytest.mark.parametrize(
    ("path", "status", "named"),
    [
        ("/instances/not-a-uuid", 400, "id:"),
        ("/instances/7d2f5a1e-0000-4000-8000-00000000dead", 404, "instance "),
        ("/instances?limit=0", 400, "limit:"),
        ("/instances?limit=1001", 400, "limit:"),
        ("/instances?marker=7d2f5a1e-0000-4000-8000-00000000beef", 400, "marker:"),
        ("/instances?all_clients=yes", 400, "all_clients:"),
    ],
)
async def test_bad_reads_are_4xx_naming_the_parameter(
    alice: Api, path: str, status: int, named: str
) -> None:
    answer = await alice.call("GET", path)
    assert answer.status == status
    assert answer.problem["detail"].startswith(named)


async def test_concurrent_first_tries_with_one_id_allocate_once(alice: Api, admin: Api) -> None:
    body = create("same", id=str(uuid.uuid4()), resources={"ram_mb": 1000})
    answers = await asyncio.gather(
        *(alice.call("POST", "/instances", json_body=body) for _ in range(8))
    )
    assert {answer.status for answer in answers} == {201}
    assert len({answer.body["instance"]["id"] for answer in answers}) == 1
    assert len((await alice.call("GET", "/instances")).body["instances"]) == 1
    assert sum((await free_ram(admin)).values()) == 8192 - 1000


async def test_concurrent_deletes_free_the_allocation_once(alice: Api, admin: Api) -> None:
    made = await alice.call("POST", "/instances", json_body=create("d", resources={"ram_mb": 1000}))
    path = f"/instances/{made.body['instance']['id']}"
    answers = await asyncio.gather(*(alice.call("DELETE", path) for _ in range(6)))
    assert sorted(answer.status for answer in answers) == [204] + [404] * 5
    assert await free_ram(admin) == {"h1": 4096.0, "h2": 4096.0}


async def test_a_re_registered_host_never_shows_more_free_than_it_has(
    alice: Api, admin: Api
) -> None:
    made = await alice.call("POST", "/instances", json_body=create("r", resources={"ram_mb": 3000}))
    host = made.body["instance"]["host"]
    assert (await admin.call("DELETE", f"/hosts/{host}")).status == 204
    beat = {"capabilities": {"os": "linux"}, "inventory": {"ram_mb": 4096, "vcpus": 4}}
    await admin.call("PUT", f"/hosts/{host}", json_body={"host": beat})
    assert (await alice.call("DELETE", f"/instances/{made.body['instance']['id']}")).status == 204
    hosts = {h["name"]: h for h in (await admin.call("GET", "/hosts")).body["hosts"]}
    assert hosts[host]["allocations"]["ram_mb"] == 0.0
    assert hosts[host]["free"]["ram_mb"] == 4096.0


async def test_a_member_with_the_service_role_still_sees_only_its_own_client(
    http: aiohttp.ClientSession, zone: RunningZone, admin: Api
) -> None:
    """Regression: service accounts may list every client's instances (for `zones reindex`);
    that let a member that is also a service show and delete other clients' instances."""
    beat = {"capabilities": {}, "inventory": {"ram_mb": 1000}}
    assert (await admin.call("PUT", "/hosts/h1", json_body={"host": beat})).status == 200
    both = {"name": "bob", "password": "bob-pw", "client": "other", "roles": ["member", "service"]}
    assert (await admin.call("POST", "/users", json_body={"user": both})).status == 201
    made = (await admin.call("POST", "/instances", json_body=create("x"))).body["instance"]
    bob = await Api(http, zone.url).as_user("bob", "bob-pw")

    assert (await bob.call("GET", f"/instances/{made['id']}")).status == 404
    assert (await bob.call("DELETE", f"/instances/{made['id']}")).status == 404
    moved = await bob.call("POST", f"/instances/{made['id']}/move", json_body={"move": {}})
    assert moved.status == 404, moved
    assert (await admin.call("GET", f"/instances/{made['id']}")).status == 200
    listed = await bob.call("GET", "/instances?all_clients=true")  # lists: read-only, allowed
    assert [item["id"] for item in listed.body["instances"]] == [made["id"]]


async def test_moves_that_swap_two_hosts_at_once_all_succeed_and_count_once(
    zone: RunningZone, admin: Api
) -> None:
    """Regression: on PostgreSQL two moves swapping hosts locked the hosts' rows in opposite
    orders; the deadlock victim answered 500. It is now run again."""
    for host in ("h1", "h2"):
        beat = {"capabilities": {}, "inventory": {"ram_mb": 100000}}
        assert (await admin.call("PUT", f"/hosts/{host}", json_body={"host": beat})).status == 200
    body = create("x", resources={"ram_mb": 10})
    made = [(await admin.call("POST", "/instances", json_body=body)).body["instance"] for _ in "ab"]
    for _ in range(12):
        moves = await asyncio.gather(
            *(
                admin.call("POST", f"/instances/{i['id']}/move", json_body={"move": {}})
                for i in made
            )
        )
        assert [answer.status for answer in moves] == [200, 200], moves
    held: dict[str, float] = {"h1": 0.0, "h2": 0.0}
    for instance in made:
        shown = (await admin.call("GET", f"/instances/{instance['id']}")).body["instance"]
        held[shown["host"]] += 10.0
    hosts = (await admin.call("GET", "/hosts")).body["hosts"]
    assert {host["name"]: host["allocations"]["ram_mb"] for host in hosts} == held
