"""Moves through a real tree: between hosts, data centres and regions; refused moves; lists
taken while moves run; allocations; the lookup following the instance."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import Api, eventually
from tests.router.tree import Tree
from zones.errors import ChildAnswerLost, ChildTimeout, ChildUnreachable
from zones.router.children.appkeys import CHILD_CLIENT, FORWARDER
from zones.router.instances.appkeys import ROUTING_CACHE

RAM = {"ram_mb": 1000}
HOSTS = {"dc-a": ["a1", "a2"], "dc-b": ["b1"], "dc-c": ["c1"]}


async def build(http: aiohttp.ClientSession, zones: ZoneStarter) -> Tree:
    """root > r1 > (dc-a: hosts a1, a2; dc-b: b1); root > r2 > dc-c: c1. alice (acme) at root."""
    tree = Tree(http)
    root = await tree.start(zones, "root")
    trust = {"trusted_issuers": [root.url]}
    for name in ("r1", "r2"):
        await tree.start(zones, name, auth=trust, zone={"capabilities": {"region": name}})
    for name in HOSTS:
        await tree.start(zones, name, auth=trust)
    for dc, hosts in HOSTS.items():
        for host in hosts:
            beat = {"capabilities": {"dc": dc}, "inventory": {"ram_mb": 4000}, "ttl": 3600}
            await tree.heartbeat(dc, host, **beat)
    for parent, child in [("r1", "dc-a"), ("r1", "dc-b"), ("r2", "dc-c")]:
        await tree.add_child(parent, child)
    await tree.add_child("root", "r1", weight_offset=1.0)
    await tree.add_child("root", "r2")
    await tree.poll("r1", "r2", "root")
    alice = {"name": "alice", "password": "alice-pw", "client": "acme"}
    assert (await tree.admins["root"].call("POST", "/users", json_body={"user": alice})).status
    return tree


async def alice(tree: Tree) -> Api:
    return await Api(tree.http, tree.zones["root"].url).as_user("alice", "alice-pw")


async def create(api: Api, name: str, dc: str) -> dict[str, Any]:
    body = {"instance": {"name": name, "requirements": {"dc": dc}, "resources": RAM}}
    answer = await api.call("POST", "/instances", json_body=body)
    assert answer.status == 201 and answer.body["instance"]["status"] == "ACTIVE", answer
    return dict(answer.body["instance"])


async def move(api: Api, instance_id: str, **move: Any) -> Any:
    return await api.call("POST", f"/instances/{instance_id}/move", json_body={"move": move})


async def allocated(tree: Tree) -> dict[str, float]:
    """Every host's ram allocation, as the data centres show it."""
    found = {}
    for dc in HOSTS:
        for host in (await tree.admins[dc].call("GET", "/hosts")).body["hosts"]:
            found[host["name"]] = host["allocations"].get("ram_mb", 0.0)
    return found


async def expected_allocations(api: Api) -> dict[str, float]:
    """What the instances the root lists should hold, host by host."""
    held = {host: 0.0 for hosts in HOSTS.values() for host in hosts}
    for instance in (await api.call("GET", "/instances")).body["instances"]:
        held[instance["host"]] += instance["resources"]["ram_mb"]
    return held


@contextmanager
def first_delete_answer_lost(tree: Tree, zone: str) -> Iterator[list[str]]:
    """The zone's first DELETE to a child goes through, then its connection is lost."""
    child_client = tree.zones[zone].app[CHILD_CLIENT]
    forward = child_client.forward
    lost: list[str] = []

    async def lose_first_delete(api_url: str, method: str, path: str, **kw: Any) -> Any:
        answer = await forward(api_url, method, path, **kw)
        if method == "DELETE" and not lost:
            lost.append(path)
            raise ChildAnswerLost("connection lost after sending (injected)")
        return answer

    child_client.forward = lose_first_delete  # type: ignore[method-assign]
    try:
        yield lost
    finally:
        child_client.forward = forward  # type: ignore[method-assign]


async def lookup(tree: Tree, client: str = "acme") -> tuple[str, list[str]] | None:
    answer = await tree.admins["root"].call("GET", f"/auth/lookup?client={client}")
    if answer.status == 404:
        return None
    assert answer.status == 200, answer
    return answer.body["zone"]["name"], answer.body["path"]


async def test_moves_between_hosts_data_centres_and_regions(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    api = await alice(tree)
    made = await create(api, "web", "dc-a")
    assert made["path"] == ["root", "r1", "dc-a"]
    first_host = made["host"]

    # Between hosts in one zone: same requirements, another host of dc-a.
    moved = await move(api, made["id"])
    assert moved.status == 200, moved
    shown = moved.body["instance"]
    assert (shown["path"], shown["status"]) == (["root", "r1", "dc-a"], "ACTIVE")
    assert shown["host"] in {"a1", "a2"} - {first_host}
    assert (shown["id"], shown["created_at"], shown["client"]) == (
        made["id"],
        made["created_at"],
        "acme",
    )
    assert await allocated(tree) == await expected_allocations(api)

    # Between data centres under one region.
    moved = await move(api, made["id"], requirements={"dc": "dc-b"})
    assert moved.status == 200, moved
    assert (moved.body["instance"]["path"], moved.body["instance"]["host"]) == (
        ["root", "r1", "dc-b"],
        "b1",
    )
    assert await allocated(tree) == await expected_allocations(api)
    assert await lookup(tree) == ("dc-b", ["root", "r1", "dc-b"])

    # Across regions.
    moved = await move(api, made["id"], requirements={"dc": "dc-c"})
    assert moved.status == 200, moved
    assert moved.body["instance"]["path"] == ["root", "r2", "dc-c"]
    assert (
        await allocated(tree)
        == await expected_allocations(api)
        == {
            "a1": 0.0,
            "a2": 0.0,
            "b1": 0.0,
            "c1": 1000.0,
        }
    )
    assert await lookup(tree) == ("dc-c", ["root", "r2", "dc-c"])

    # It is where the move says, through the root and at its zone; listed once.
    got = await api.call("GET", f"/instances/{made['id']}")
    assert (got.status, got.body["instance"]["zone"]) == (200, "dc-c")
    listed = (await api.call("GET", "/instances")).body["instances"]
    assert [item["id"] for item in listed] == [made["id"]]
    for dc in ("dc-a", "dc-b"):
        gone = await tree.admins[dc].call("GET", f"/instances/{made['id']}")
        assert gone.status == 404, gone


async def test_a_move_that_cannot_be_placed_leaves_the_instance_where_it_was(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    api = await alice(tree)
    made = await create(api, "db", "dc-b")  # dc-b has one host: no other host there
    before = await allocated(tree)

    for asked in ({}, {"requirements": {"dc": "nowhere"}}):
        refused = await move(api, made["id"], **asked)
        assert refused.status == 409, refused
        assert refused.problem["reason"] == "nothing-fits"
        assert "stays where it is" in refused.problem["detail"]
        got = await api.call("GET", f"/instances/{made['id']}")
        assert (got.body["instance"]["host"], got.body["instance"]["path"]) == (
            "b1",
            ["root", "r1", "dc-b"],
        )
        assert got.body["instance"]["requirements"] == {"dc": "dc-b"}
        assert await allocated(tree) == before
    assert await lookup(tree) == ("dc-b", ["root", "r1", "dc-b"])


async def test_a_move_to_a_region_no_zone_has_stays_put_though_its_zone_has_room(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """Regression: r1's static capabilities contradict the new region, yet r1 passed the
    move down with the region marked as settled, and dc-a moved it to its other host."""
    tree = await build(http, zones)
    api = await alice(tree)
    made = await create(api, "web", "dc-a")  # dc-a has a second host with room
    refused = await move(api, made["id"], requirements={"region": "r3"})
    assert refused.status == 409, refused
    assert "r1's own capabilities rule the requirements out" in refused.problem["detail"]
    got = (await api.call("GET", f"/instances/{made['id']}")).body["instance"]
    assert (got["host"], got["requirements"]) == (made["host"], {"dc": "dc-a"})
    moved = await move(api, made["id"], requirements={"region": "r2"})
    assert moved.status == 200 and moved.body["instance"]["zone"] == "dc-c", moved


async def test_admins_move_to_a_named_zone_and_members_may_not(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    api = await alice(tree)
    admin = tree.admins["root"]
    made = await create(api, "batch", "dc-a")

    refused = await move(api, made["id"], zone="dc-c")
    assert refused.status == 403 and "move.zone" in refused.problem["detail"], refused
    unknown = await move(admin, made["id"], zone="dc-z")
    assert unknown.status == 400 and "move.zone" in unknown.problem["detail"], unknown

    # The requirements still hold: dc-c's host says dc = dc-c, not dc-a.
    contradicted = await move(admin, made["id"], zone="dc-c")
    assert contradicted.status == 409, contradicted
    moved = await move(admin, made["id"], zone="dc-c", requirements={})
    assert moved.status == 200, moved
    assert moved.body["instance"]["path"] == ["root", "r2", "dc-c"]
    assert moved.body["instance"]["client"] == "acme"
    # A region as the target: anywhere inside it.
    moved = await move(admin, made["id"], zone="r1", requirements={})
    assert moved.status == 200, moved
    assert moved.body["instance"]["path"][:2] == ["root", "r1"]
    assert await allocated(tree) == await expected_allocations(api)


async def test_lists_during_moves_show_each_instance_exactly_once(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    api = await alice(tree)
    made = [await create(api, f"i{n}", "dc-a") for n in range(3)]
    ids = sorted(instance["id"] for instance in made)
    moving = True
    seen: list[list[str]] = []

    async def keep_listing() -> None:
        while moving:
            listed = await api.call("GET", "/instances")
            assert listed.status == 200, listed
            seen.append(sorted(item["id"] for item in listed.body["instances"]))

    async def keep_moving() -> None:
        for dc in ("dc-b", "dc-c", "dc-a", "dc-c", "dc-b"):
            for instance in made:
                moved = await move(api, instance["id"], requirements={"dc": dc})
                assert moved.status in (200, 409), moved  # dc-b's one host may be full

    lister = asyncio.create_task(keep_listing())
    try:
        await keep_moving()
    finally:
        moving = False
        await lister
    assert len(seen) >= 5
    assert all(listed == ids for listed in seen), [s for s in seen if s != ids][:3]
    assert await allocated(tree) == await expected_allocations(api)


async def test_a_list_that_chose_its_children_before_a_move_switched_still_finds_it(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """Regression (seen once in CI): a list at the root read its mappings (the instance: r1),
    the move then switched to r2 and deleted the old copy, and the list's call to r1 came
    after: the instance was missing from that list. Moves now wait for the lists under way
    before deleting the old copy."""
    tree = await build(http, zones)
    api = await alice(tree)
    made = await create(api, "x", "dc-a")
    moved_answer: list[Any] = []

    async def list_call_held_back(send: Send, child: Any, method: str, path: str, **kw: Any) -> Any:
        if method == "GET" and path.startswith("/instances?") and child.name == "r1":
            deadline = time.monotonic() + 3.0  # until the move is done, or 3 s at most
            while not moved_answer and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        return await send(child, method, path, **kw)

    async def move_once_the_list_is_under_way() -> None:
        await eventually(lambda: has_list_under_way(tree))
        moved_answer.append(await move(api, made["id"], requirements={"dc": "dc-c"}))

    with root_sends_through(tree, list_call_held_back):
        listed, _ = await asyncio.gather(
            api.call("GET", "/instances"), move_once_the_list_is_under_way()
        )

    assert moved_answer[0].status == 200, moved_answer
    assert [item["id"] for item in listed.body["instances"]] == [made["id"]], listed


Send = Callable[..., Awaitable[Any]]


@contextmanager
def root_sends_through(tree: Tree, intercept: Callable[..., Awaitable[Any]]) -> Iterator[None]:
    """The root's calls to its children go through `intercept(send, child, method, path,
    **options)`, which may act first, fail, or call `send` on."""
    forwarder = tree.zones["root"].app[FORWARDER]
    send = forwarder.send

    async def intercepted(child: Any, method: str, path: str, **options: Any) -> Any:
        return await intercept(send, child, method, path, **options)

    forwarder.send = intercepted  # type: ignore[method-assign]
    try:
        yield
    finally:
        forwarder.send = send  # type: ignore[method-assign]


async def has_list_under_way(tree: Tree) -> bool:
    return tree.zones["root"].app[ROUTING_CACHE].lists_under_way > 0


async def test_a_delete_below_during_a_move_is_not_undone_by_the_move(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """Regression: alice deleted at dc-a (her login endpoint) while a move at the root had
    made the new copy at dc-c; the move found the old copy gone, answered 200, and the
    instance lived on at dc-c."""
    tree = await build(http, zones)
    api = await alice(tree)
    made = await create(api, "x", "dc-a")
    at_dc_a = Api(http, tree.zones["dc-a"].url, api.token)

    async def delete_below_first(
        send: Send, child: Any, method: str, path: str, **options: Any
    ) -> Any:
        if method == "DELETE" and child.name == "r1":  # removing the old copy: alice was quicker
            assert (await at_dc_a.call("DELETE", f"/instances/{made['id']}")).status == 204
        return await send(child, method, path, **options)

    with root_sends_through(tree, delete_below_first):
        moved = await move(api, made["id"], requirements={"dc": "dc-c"})

    assert moved.status == 404 and "deleted while" in moved.problem["detail"], moved
    assert (await api.call("GET", f"/instances/{made['id']}")).status == 404
    assert (await api.call("GET", "/instances")).body["instances"] == []
    assert set((await allocated(tree)).values()) == {0.0}
    assert await lookup(tree) is None


async def test_a_move_whose_old_copy_cannot_be_reached_is_undone(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """Regression: r1 could not be reached to remove the old copy after the new one was
    made at dc-c; both stayed, each holding room, and a delete left the other behind."""
    tree = await build(http, zones)
    api = await alice(tree)
    made = await create(api, "x", "dc-a")

    async def r1_unreachable_for_deletes(
        send: Send, child: Any, method: str, path: str, **kw: Any
    ) -> Any:
        if method == "DELETE" and child.name == "r1":
            raise ChildUnreachable("connection refused (injected)")
        return await send(child, method, path, **kw)

    with root_sends_through(tree, r1_unreachable_for_deletes):
        moved = await move(api, made["id"], requirements={"dc": "dc-c"})

    assert moved.status == 502 and "the move was undone" in moved.problem["detail"], moved
    got = (await api.call("GET", f"/instances/{made['id']}")).body["instance"]
    assert (got["zone"], got["host"]) == ("dc-a", made["host"])
    assert await allocated(tree) == await expected_allocations(api)
    assert [i["id"] for i in (await api.call("GET", "/instances")).body["instances"]] == [
        made["id"]
    ]
    assert (await api.call("DELETE", f"/instances/{made['id']}")).status == 204
    assert set((await allocated(tree)).values()) == {0.0}


async def test_a_new_copy_whose_answer_was_lost_is_withdrawn(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """Regression: the create of the new copy at dc-c was made but its answer lost; the move
    said "retry", and a move elsewhere then left the copy at dc-c holding room forever."""
    tree = await build(http, zones)
    api = await alice(tree)
    made = await create(api, "x", "dc-a")

    async def answer_lost(send: Send, child: Any, method: str, path: str, **kw: Any) -> Any:
        answer = await send(child, method, path, **kw)
        if method == "POST" and path == "/instances":
            raise ChildTimeout("no answer in time (injected, after the child acted)")
        return answer

    with root_sends_through(tree, answer_lost):
        moved = await move(api, made["id"], requirements={"dc": "dc-c"})

    assert moved.status == 409 and "withdrawn" in moved.problem["detail"], moved
    got = (await api.call("GET", f"/instances/{made['id']}")).body["instance"]
    assert (got["zone"], got["host"]) == ("dc-a", made["host"])
    assert await allocated(tree) == await expected_allocations(api)
    assert (await tree.admins["dc-c"].call("GET", f"/instances/{made['id']}")).status == 404
    moved = await move(api, made["id"], requirements={"dc": "dc-c"})
    assert moved.status == 200 and moved.body["instance"]["zone"] == "dc-c", moved
    assert await allocated(tree) == await expected_allocations(api)


async def test_a_lost_answer_to_the_old_copys_delete_two_levels_down_keeps_the_instance(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """Regression: r1's delete of the old copy at dc-a went through but its answer was lost;
    the retry's 404 went up as a plain 404, and the root, taking it for a delete made during
    the move, deleted the new copy too: the instance was gone."""
    tree = await build(http, zones)
    api = await alice(tree)
    made = await create(api, "x", "dc-a")
    with first_delete_answer_lost(tree, "r1") as lost:
        moved = await move(api, made["id"], requirements={"dc": "dc-c"})

    assert lost and moved.status == 200 and moved.body["instance"]["zone"] == "dc-c", moved
    assert (await api.call("GET", f"/instances/{made['id']}")).body["instance"]["zone"] == "dc-c"
    assert await allocated(tree) == await expected_allocations(api)
    assert sum((await allocated(tree)).values()) == 1000.0


async def test_a_delete_whose_answer_was_lost_below_is_still_204(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    """Regression (noted open in issue 5): r1's delete at dc-a went through, its answer was
    lost, and the retry's 404 reached the user as 404 for a delete that succeeded."""
    tree = await build(http, zones)
    api = await alice(tree)
    made = await create(api, "x", "dc-a")
    with first_delete_answer_lost(tree, "r1") as lost:
        deleted = await api.call("DELETE", f"/instances/{made['id']}")
    assert lost and deleted.status == 204, deleted
    assert (await api.call("GET", f"/instances/{made['id']}")).status == 404
    assert set((await allocated(tree)).values()) == {0.0}


async def test_an_error_instance_kept_at_the_root_is_placed_by_a_move(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    api = await alice(tree)
    body = {"instance": {"name": "late", "requirements": {"dc": "dc-d"}, "resources": RAM}}
    kept = (await api.call("POST", "/instances", json_body=body)).body["instance"]
    assert (kept["status"], kept["zone"]) == ("ERROR", "root")
    assert await lookup(tree) == ("root", ["root"])

    moved = await move(api, kept["id"], requirements={"dc": "dc-c"})
    assert moved.status == 200, moved
    shown = moved.body["instance"]
    assert (shown["status"], shown["path"], shown.get("fault")) == (
        "ACTIVE",
        ["root", "r2", "dc-c"],
        None,
    )
    assert shown["created_at"] == kept["created_at"]
    assert await lookup(tree) == ("dc-c", ["root", "r2", "dc-c"])
    listed = (await api.call("GET", "/instances")).body["instances"]
    assert [(item["id"], item["status"]) for item in listed] == [(kept["id"], "ACTIVE")]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ("{not json", "body"),
        ('{"move": {"requirements": ["dc"]}}', "move.requirements"),
        ('{"move": {"requirements": {"dc": {"approx": 1}}}}', "move.requirements.dc"),
        ('{"move": {"zone": 7}}', "move.zone"),
        ('{"move": {"colour": "red"}}', "move.colour"),
        ("{}", "move"),
        ('{"move": {"requirements": {"k": "' + "x" * 2_000_000 + '"}}}', None),
    ],
)
async def test_bad_moves_are_refused_and_change_nothing(
    http: aiohttp.ClientSession, zones: ZoneStarter, data: str, field: str | None
) -> None:
    zone = await zones("solo")
    api = await Api(http, zone.url).as_user()
    beat = {"capabilities": {"dc": "x"}, "inventory": {"ram_mb": 4000}}
    assert (await api.call("PUT", "/hosts/h1", json_body={"host": beat})).status == 200
    assert (await api.call("PUT", "/hosts/h2", json_body={"host": beat})).status == 200
    made = await create(api, "keep", "x")
    path = f"/instances/{made['id']}/move"

    refused = await api.call("POST", path, data=data, headers={"Content-Type": "application/json"})
    assert refused.status == (413 if field is None else 400), refused
    if field is not None:
        assert field in refused.problem["detail"], refused.problem
    assert (await api.call("GET", f"/instances/{made['id']}")).body["instance"] == made

    unknown = await move(api, "00000000-0000-4000-8000-000000000000")
    assert unknown.status == 404, unknown
    not_an_id = await move(api, "nope")
    assert not_an_id.status == 400 and "id" in not_an_id.problem["detail"], not_an_id
