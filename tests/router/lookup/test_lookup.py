"""`GET /auth/lookup` and the login `endpoint`: the lowest zone that manages a client.

Real zones on loopback, two roots over shared data centres:

    global > na > na-dc1, na-dc2        gpu > na-dc1, eu-dc1
    global > eu > eu-dc1

Each data centre has one host with the capability `{"dc": <its name>}`, so a create
with `requirements={"dc": ...}` lands exactly there. The expected answers are those
of CONTRACT section 4 for what lives in each root's subtree. A zone learns a change
that passes through it at once (its own rows, and the answers its children send back
with forwarded creates and deletes); a change made through the other root, or by
entering lower down, reaches it with its next polls. So after each change the root
that took it is checked at once, and both roots after a poll round.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Answer, Api
from tests.router.tree import Tree

DATA_CENTRES = ("na-dc1", "na-dc2", "eu-dc1")
EDGES = (
    ("na", "na-dc1"),
    ("na", "na-dc2"),
    ("eu", "eu-dc1"),
    ("global", "na"),
    ("global", "eu"),
    ("gpu", "na-dc1"),
    ("gpu", "eu-dc1"),
)
MEMBERS = {"alice": "acme", "bob": "globex"}

Seen = tuple[str, list[str]] | None  # (zone name, path), or None for 404


async def build(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str | None = None
) -> Tree:
    """The two-root tree, polled leaves' parents first, with members at both roots.

    `global` runs on `database_url` (one database per test, so the other zones use SQLite).
    """
    tree = Tree(http)
    roots = [await tree.start(zones, "global", database_url=database_url)]
    roots.append(await tree.start(zones, "gpu"))
    trust = {"trusted_issuers": [root.url for root in roots]}
    for name in ("na", "eu", *DATA_CENTRES):
        await tree.start(zones, name, auth=trust)
    for dc in DATA_CENTRES:
        await tree.heartbeat(
            dc, f"{dc}-h1", capabilities={"dc": dc}, inventory={"ram_mb": 8192}, ttl=3600
        )
    for parent, child in EDGES:
        await tree.add_child(parent, child)
    await tree.poll("na", "eu", "global", "gpu")
    for root in ("global", "gpu"):
        for name, client in MEMBERS.items():
            user = {"name": name, "password": f"{name}-pw", "client": client, "roles": ["member"]}
            made = await tree.admins[root].call("POST", "/users", json_body={"user": user})
            assert made.status == 201, made
    return tree


async def member(tree: Tree, at: str, name: str = "alice") -> Api:
    return await Api(tree.http, tree.zones[at].url).as_user(name, f"{name}-pw")


async def place(api: Api, dc: str, **fields: Any) -> dict[str, Any]:
    """Create an instance that must land in data centre `dc`; the instance made."""
    body = {"instance": {"name": f"in-{dc}", "requirements": {"dc": dc}, **fields}}
    made = await api.call("POST", "/instances", json_body=body)
    assert made.status == 201, made
    instance: dict[str, Any] = made.body["instance"]
    return instance


async def remove(api: Api, instance: dict[str, Any]) -> None:
    gone = await api.call("DELETE", f"/instances/{instance['id']}")
    assert gone.status == 204, gone


async def lookup(tree: Tree, at: str, client: str = "acme") -> Seen:
    """What an admin of `at` is told about `client`: (zone, path), or None for a 404."""
    answer = await tree.admins[at].call("GET", f"/auth/lookup?client={client}")
    if answer.status == 404:
        assert client in answer.problem["detail"]
        return None
    assert answer.status == 200, answer
    assert answer.body["client"] == client
    zone = answer.body["zone"]
    assert zone["url"] == tree.zones[zone["name"]].url  # a URL the user can go to
    assert answer.body["path"][0] == at and answer.body["path"][-1] == zone["name"]
    return zone["name"], answer.body["path"]


POLL_ORDER = ("na", "eu", "global", "gpu")  # leaves' parents first


async def expect(tree: Tree, via: str, at_global: Seen, at_gpu: Seen) -> None:
    """`via` (the root a change went through) knows at once; both roots after the polls."""
    assert await lookup(tree, via) == {"global": at_global, "gpu": at_gpu}[via], "at once"
    await tree.poll(*POLL_ORDER)
    assert await lookup(tree, "global") == at_global
    assert await lookup(tree, "gpu") == at_gpu


async def test_the_answer_follows_every_create_and_delete_at_both_roots(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str
) -> None:
    tree = await build(http, zones, database_url)
    via_global, via_gpu = await member(tree, "global"), await member(tree, "gpu")
    global_dc1 = ("na-dc1", ["global", "na", "na-dc1"])
    gpu_dc1 = ("na-dc1", ["gpu", "na-dc1"])  # the same data centre, by another path
    both_regions, both_dcs = ("global", ["global"]), ("gpu", ["gpu"])
    await expect(tree, "global", None, None)

    a = await place(via_global, "na-dc1")
    assert a["path"] == ["global", "na", "na-dc1"]
    await expect(tree, "global", global_dc1, gpu_dc1)
    d = await place(via_gpu, "na-dc1")
    assert d["path"] == ["gpu", "na-dc1"]
    await expect(tree, "gpu", global_dc1, gpu_dc1)
    b = await place(via_global, "na-dc2")  # not below gpu
    await expect(tree, "global", ("na", ["global", "na"]), gpu_dc1)
    c = await place(via_global, "eu-dc1")
    await expect(tree, "global", both_regions, both_dcs)
    e = await place(via_gpu, "eu-dc1")
    await expect(tree, "gpu", both_regions, both_dcs)

    await remove(via_global, c)  # e is still in eu-dc1
    await expect(tree, "global", both_regions, both_dcs)
    await remove(via_gpu, e)
    await expect(tree, "gpu", ("na", ["global", "na"]), gpu_dc1)
    await remove(via_global, b)
    await expect(tree, "global", global_dc1, gpu_dc1)
    await remove(via_global, a)  # d is still in na-dc1
    await expect(tree, "global", global_dc1, gpu_dc1)
    await remove(via_gpu, d)
    await expect(tree, "gpu", None, None)

    assert await lookup(tree, "global", "never-seen") is None
    assert await lookup(tree, "gpu", "globex") is None


async def test_the_answer_comes_from_the_index_without_asking_children(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    alice = await member(tree, "global")
    await place(alice, "na-dc1")
    await place(alice, "na-dc2")
    before = await lookup(tree, "global")
    assert before == ("na", ["global", "na"])

    for name in ("eu", "eu-dc1"):  # zones that hold nothing of acme's
        await tree.zones[name].stop()
    assert await lookup(tree, "global") == before
    for name in ("na-dc1", "na-dc2", "na"):  # and those that do
        await tree.zones[name].stop()
    # Had it asked, the stopped children could not answer and it would say `global`.
    assert await lookup(tree, "global") == before
    bob = await tree.admins["global"].call("GET", "/auth/lookup?client=globex")
    assert bob.status == 404


async def login(api: Api, name: str) -> Answer:
    answer = await api.call(
        "POST", "/auth/tokens", json_body={"username": name, "password": f"{name}-pw"}
    )
    assert answer.status == 201, answer
    return answer


async def test_login_names_the_lowest_zone_and_its_token_works_there(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    at_global = Api(http, tree.zones["global"].url)
    alice = await member(tree, "global")
    first = await place(alice, "na-dc1")

    logged_in = (await login(at_global, "alice")).body
    endpoint = logged_in["endpoint"]
    assert endpoint == {"name": "na-dc1", "url": tree.zones["na-dc1"].url}
    there = Api(http, endpoint["url"], logged_in["token"])
    listed = await there.call("GET", "/instances")
    assert listed.status == 200, listed
    assert [i["id"] for i in listed.body["instances"]] == [first["id"]]
    own = await there.call("GET", "/auth/lookup?client=acme")  # a member, about itself
    assert (own.status, own.body["zone"]["name"], own.body["path"]) == (200, "na-dc1", ["na-dc1"])

    second = await place(alice, "na-dc2")
    endpoint = (await login(at_global, "alice")).body["endpoint"]
    assert endpoint == {"name": "na", "url": tree.zones["na"].url}
    listed = await Api(http, endpoint["url"], alice.token).call("GET", "/instances")
    assert sorted(i["id"] for i in listed.body["instances"]) == sorted([first["id"], second["id"]])

    # bob's client has no instances: the zone he logged into is his endpoint.
    for root in ("global", "gpu"):
        bob = await login(Api(http, tree.zones[root].url), "bob")
        assert bob.body["endpoint"] == {"name": root, "url": tree.zones[root].url}
    # At gpu, once it has polled: na-dc1 (na-dc2 is not below gpu).
    await tree.poll(*POLL_ORDER)
    alice_at_gpu = await login(Api(http, tree.zones["gpu"].url), "alice")
    assert alice_at_gpu.body["endpoint"] == {"name": "na-dc1", "url": tree.zones["na-dc1"].url}

    # The index news between zones is for parents only: a direct caller is not sent it.
    direct = await there.call("POST", "/instances", json_body={"instance": {"name": "direct"}})
    assert direct.status == 201 and "X-Zones-Lookup" not in direct.headers


async def test_concurrent_creates_and_deletes_leave_the_right_answer(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str
) -> None:
    tree = await build(http, zones, database_url)
    alice = await member(tree, "global")
    made = await asyncio.gather(*(place(alice, dc) for dc in DATA_CENTRES * 4 + ("moon",) * 2))
    assert [i["status"] for i in made].count("ERROR") == 2  # nothing is on the moon
    assert await lookup(tree, "global") == ("global", ["global"])
    steps: list[tuple[str, Seen]] = [
        ("global", ("global", ["global"])),  # the faults kept at global go first
        ("eu-dc1", ("na", ["global", "na"])),
        ("na-dc2", ("na-dc1", ["global", "na", "na-dc1"])),
        ("na-dc1", None),
    ]
    for zone, seen in steps:
        await asyncio.gather(*(remove(alice, i) for i in made if i["zone"] == zone))
        assert await lookup(tree, "global") == seen, zone


async def test_an_instance_found_by_asking_is_covered_by_the_answer(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    alice = await member(tree, "global")
    first = await place(alice, "na-dc1")
    # Entered at na, below global: global's index does not see this create...
    second = await place(Api(http, tree.zones["na"].url, alice.token), "na-dc2")
    # ...until a GET through global finds it by asking, and keeps a mapping to na. The
    # answer na sent before (na-dc1) is now too low: global answers na itself instead.
    assert (await alice.call("GET", f"/instances/{second['id']}")).status == 200
    logged_in = (await login(Api(http, tree.zones["global"].url), "alice")).body
    there = Api(http, logged_in["endpoint"]["url"], logged_in["token"])
    listed = (await there.call("GET", "/instances")).body["instances"]
    assert sorted(i["id"] for i in listed) == sorted([first["id"], second["id"]])


async def test_an_instance_kept_at_the_root_with_a_fault_makes_the_root_the_answer(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await build(http, zones)
    alice = await member(tree, "global")
    placed = await place(alice, "na-dc1")
    nowhere = await alice.call(
        "POST", "/instances", json_body={"instance": {"name": "x", "requirements": {"dc": "moon"}}}
    )
    faulty = nowhere.body["instance"]
    assert (nowhere.status, faulty["status"], faulty["zone"]) == (201, "ERROR", "global")
    assert await lookup(tree, "global") == ("global", ["global"])
    endpoint = (await login(Api(http, tree.zones["global"].url), "alice")).body["endpoint"]
    assert endpoint["name"] == "global"

    await remove(alice, faulty)
    assert await lookup(tree, "global") == ("na-dc1", ["global", "na", "na-dc1"])
    await remove(alice, placed)
    nowhere = await alice.call(
        "POST", "/instances", json_body={"instance": {"name": "y", "requirements": {"dc": "moon"}}}
    )
    assert nowhere.body["instance"]["status"] == "ERROR"
    assert await lookup(tree, "global") == ("global", ["global"])  # the fault alone, too


async def lone_zone(http: aiohttp.ClientSession, zones: ZoneStarter) -> dict[str, Api]:
    """One SQLite zone with an admin, a member of acme, a service account and a host account."""
    zone = await zones("solo")
    admin = await Api(http, zone.url).as_user()
    accounts = {"alice": ("acme", "member"), "svc": ("ops", "service"), "h1": ("ops", "host")}
    apis = {"admin": admin, "anonymous": Api(http, zone.url)}
    for name, (client, role) in accounts.items():
        user = {"name": name, "password": f"{name}-pw", "client": client, "roles": [role]}
        assert (await admin.call("POST", "/users", json_body={"user": user})).status == 201
        apis[name] = await Api(http, zone.url).as_user(name, f"{name}-pw")
    return apis


BAD_QUERIES = (
    "",
    "?",
    "?other=acme",
    "?client=",
    "?client=" + "a" * 64,
    "?client=ACME",
    "?client=-acme",
    "?client=.acme",
    "?client=ac%20me",
    "?client=ac/me",
    "?client=acm%C3%A9",
    "?client=ac%00me",
    "?client=" + "a" * 5000,
)


async def test_a_bad_client_parameter_is_400_naming_client(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    apis = await lone_zone(http, zones)
    for query in BAD_QUERIES:
        for who in ("admin", "alice"):
            answer = await apis[who].call("GET", f"/auth/lookup{query}")
            assert answer.status == 400, (query, who, answer)
            assert answer.problem["status"] == 400
            assert answer.problem["detail"].startswith("client"), (query, answer.problem)


async def test_who_may_ask_and_what_unknown_clients_get(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    apis = await lone_zone(http, zones)
    cases = [
        ("anonymous", "acme", 401),
        ("h1", "acme", 403),  # a host account may not ask
        ("alice", "globex", 403),  # a member only about its own client
        ("alice", "acme", 404),  # its own, with no instances
        ("admin", "nobody", 404),
        ("admin", "a" * 63, 404),  # the longest name allowed is a name
        ("svc", "acme", 404),
    ]
    for who, client, status in cases:
        answer = await apis[who].call("GET", f"/auth/lookup?client={client}")
        assert answer.status == status, (who, client, answer)
        assert answer.problem["status"] == status
    forged = await apis["anonymous"].call("GET", "/auth/lookup?client=acme", token="not-a-token")
    assert forged.status == 401 and forged.problem["status"] == 401

    made = await apis["alice"].call("POST", "/instances", json_body={"instance": {"name": "i"}})
    assert made.body["instance"]["status"] == "ERROR"  # no hosts: kept here with a fault
    for who in ("alice", "admin", "svc"):
        answer = await apis[who].call("GET", "/auth/lookup?client=acme")
        assert answer.status == 200, (who, answer)
        assert answer.body["zone"]["name"] == "solo" and answer.body["path"] == ["solo"]
    assert (await apis["alice"].call("GET", "/auth/lookup?client=globex")).status == 403
