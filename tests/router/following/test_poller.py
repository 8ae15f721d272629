"""Parents poll children: aggregated state flows up the tree, and health decides what counts."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import ZoneStarter
from tests.harness import eventually, free_port
from tests.router.fake_child import AppServer, FakeChild, serve_app, zone_info_body
from tests.router.tree import Tree

__all__ = ["serve_app"]  # a fixture, used by name


@pytest.fixture
async def tree(http: aiohttp.ClientSession) -> Tree:
    return Tree(http)


async def test_a_leaf_heartbeat_reaches_the_root_and_leaves_with_its_ttl(
    tree: Tree, zones: ZoneStarter
) -> None:
    await tree.start(zones, "root")
    await tree.start(zones, "mid", zone={"capabilities": {"region": "na"}})
    await tree.start(zones, "leaf")
    await tree.add_child("root", "mid")
    await tree.add_child("mid", "leaf")
    before = await tree.info("root")

    await tree.heartbeat(
        "leaf",
        "h-big",
        capabilities={"os": "linux", "gpu_count": 2},
        inventory={"ram_mb": 8192, "vcpus": 16},
        ttl=60,
    )
    await tree.heartbeat(
        "leaf",
        "h-brief",
        capabilities={"os": "windows", "gpu_count": 0},
        inventory={"ram_mb": 2048, "vcpus": 4},
        ttl=1,
    )
    await tree.poll("mid", "root")

    seen = await tree.info("root")
    assert seen["hosts"] == 2
    assert seen["capabilities"]["os"] == {"type": "string", "values": ["linux", "windows"]}
    assert seen["capabilities"]["gpu_count"] == {"type": "float", "min": 0.0, "max": 2.0}
    assert seen["capabilities"]["region"] == {"type": "string", "values": ["na"]}
    assert seen["free"]["ram_mb"] == {"max": 8192.0, "sum": 10240.0}
    assert seen["free"]["vcpus"] == {"max": 16.0, "sum": 20.0}
    assert seen["generation"] != before["generation"]

    async def brief_host_gone() -> bool:
        return (await tree.info("leaf"))["hosts"] == 1

    await eventually(brief_host_gone, timeout=10)
    await tree.poll("mid", "root")
    after = await tree.info("root")
    assert after["hosts"] == 1
    assert after["capabilities"]["os"] == {"type": "string", "values": ["linux"]}
    assert after["capabilities"]["gpu_count"] == {"type": "float", "min": 2.0, "max": 2.0}
    assert after["free"]["ram_mb"] == {"max": 8192.0, "sum": 8192.0}
    assert after["generation"] not in (before["generation"], seen["generation"])


async def test_an_unchanged_child_answers_304_and_a_change_is_seen(
    tree: Tree, zones: ZoneStarter
) -> None:
    await tree.start(zones, "root")
    await tree.start(zones, "leaf")
    await tree.add_child("root", "leaf")
    first = await tree.poll("root")
    again = await tree.poll("root")
    assert first[0].ok and again[0].ok
    assert again[0].info is None  # the child said 304: nothing to store

    await tree.heartbeat("leaf", "h1", capabilities={"os": "linux"}, inventory={"ram_mb": 1})
    changed = await tree.poll("root")
    assert changed[0].info is not None
    assert (await tree.child("root", "leaf"))["hosts"] == 1

    info = await tree.info("leaf")
    etag = f'"{info["generation"]}"'
    conditional = await tree.admins["leaf"].call(
        "GET", "/zones/info", headers={"If-None-Match": etag}
    )
    assert conditional.status == 304
    assert conditional.headers["ETag"] == etag


async def test_a_killed_child_goes_offline_leaves_the_aggregate_and_comes_back(
    tree: Tree, zones: ZoneStarter
) -> None:
    port = free_port()
    await tree.start(zones, "root")
    leaf = await tree.start(zones, "leaf", zone={"listen": f"127.0.0.1:{port}"})
    await tree.add_child("root", "leaf")
    await tree.heartbeat("leaf", "h1", capabilities={"gpu": True}, inventory={"vcpus": 8})
    await tree.poll("root")
    assert (await tree.info("root"))["capabilities"]["gpu"]["values"] == [True]

    await leaf.stop()
    await tree.poll("root")
    once = await tree.child("root", "leaf")
    assert (once["state"], once["failures"]) == ("online", 1)  # one failure is not offline yet
    assert "could not be reached" in once["last_error"]
    await tree.poll("root")  # failures_before_offline = 2
    twice = await tree.child("root", "leaf")
    assert twice["state"] == "offline"
    root_info = await tree.info("root")
    assert "gpu" not in root_info["capabilities"]
    assert root_info["free"] == {} and root_info["hosts"] == 0
    assert root_info["children"] == [{"name": "leaf", "state": "offline", "uuid": twice["uuid"]}]

    # Same directory, same port: the same zone, back.
    await tree.start_again(zones, "leaf", port)
    await tree.poll("root")
    back = await tree.child("root", "leaf")
    assert (back["state"], back["failures"], back["last_error"]) == ("online", 0, None)
    assert (await tree.info("root"))["capabilities"]["gpu"]["values"] == [True]


async def test_a_disabled_child_is_not_polled_counted_or_shown_online(
    tree: Tree, zones: ZoneStarter
) -> None:
    await tree.start(zones, "root")
    await tree.start(zones, "leaf", zone={"capabilities": {"tier": "gold"}})
    added = await tree.add_child("root", "leaf")
    assert (await tree.info("root"))["capabilities"]["tier"]["values"] == ["gold"]

    changed = await tree.admins["root"].call(
        "PUT", f"/zones/{added['id']}", json_body={"zone": {"enabled": False}}
    )
    assert changed.body["zone"]["state"] == "disabled"
    assert await tree.poll("root") == []
    info = await tree.info("root")
    assert "tier" not in info["capabilities"]
    assert info["children"][0]["state"] == "disabled"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (lambda: web.Response(text="<html>502 Bad Gateway</html>", status=502), "answered 502"),
        (
            lambda: web.Response(text="<html>hello</html>", content_type="text/html"),
            "not usable JSON",
        ),
        (lambda: web.json_response([1, 2, 3]), "not an object"),
        (lambda: web.json_response({"zone": {"name": "x"}}), "another shape"),
        (
            lambda: web.json_response(
                zone_info_body(capabilities={"os": {"type": "string", "values": [[1]]}})
            ),
            "another shape",
        ),
        (lambda: web.json_response(zone_info_body(uuid="u")), "another shape"),
        (lambda: web.json_response(zone_info_body(name="n" * 100)), "another shape"),
        (lambda: web.json_response(zone_info_body(hosts=-7)), "another shape"),
        (
            lambda: web.json_response(
                zone_info_body(capabilities={"os": {"type": "string", "values": ["x\u0000"]}})
            ),
            "another shape",
        ),
        (lambda: web.Response(text="[" * 100_000), "not usable JSON"),
        (lambda: web.Response(body=b"\xff\xfe{}"), "not UTF-8"),
        (lambda: web.Response(body=b" " * (9 * 1024 * 1024)), "more than"),
    ],
)
async def test_a_child_answering_garbage_is_a_failed_poll_with_a_reason(
    tree: Tree,
    zones: ZoneStarter,
    serve_app: AppServer,
    answer: Callable[[], web.Response],
    reason: str,
) -> None:
    await tree.start(zones, "root")
    url = await serve_app(FakeChild(answer).app())
    added = await tree.admins["root"].call(
        "POST", "/zones", json_body={"zone": {"api_url": url, "username": "u", "password": "p"}}
    )
    assert added.status == 201
    assert added.body["zone"]["state"] == "unknown"

    outcomes = await tree.poll("root")
    assert [outcome.ok for outcome in outcomes] == [False]
    shown = await tree.admins["root"].call("GET", f"/zones/{added.body['zone']['id']}")
    assert reason in shown.body["zone"]["last_error"]
    assert (await tree.admins["root"].call("GET", "/healthz")).status == 200
    assert (await tree.info("root"))["capabilities"] == {}


async def test_one_child_with_two_parents_is_seen_by_both(tree: Tree, zones: ZoneStarter) -> None:
    await tree.start(zones, "geo")
    await tree.start(zones, "gpu")
    await tree.start(zones, "dc", zone={"capabilities": {"gpus": 8}})
    await tree.add_child("geo", "dc")
    await tree.add_child("gpu", "dc")
    await tree.poll("geo", "gpu")
    for root in ("geo", "gpu"):
        info = await tree.info(root)
        assert info["capabilities"]["gpus"] == {"type": "float", "min": 8.0, "max": 8.0}
        assert [child["name"] for child in info["children"]] == ["dc"]


async def test_a_zone_add_that_would_close_a_loop_is_refused(
    tree: Tree, zones: ZoneStarter
) -> None:
    await tree.start(zones, "top")
    await tree.start(zones, "middle")
    await tree.start(zones, "bottom")
    await tree.add_child("top", "middle")
    await tree.add_child("middle", "bottom")
    await tree.poll("middle", "top")

    for parent, child in (("bottom", "top"), ("middle", "top"), ("bottom", "middle")):
        refused = await tree.admins[parent].call(
            "POST",
            "/zones",
            json_body={
                "zone": {
                    "api_url": tree.zones[child].url,
                    "username": "svc-parent",
                    "password": "svc-pw",
                }
            },
        )
        assert refused.status == 409, (parent, child, refused)
        assert "loop" in refused.problem["detail"]
        listed = await tree.admins[parent].call("GET", "/zones")
        assert tree.zones[child].url not in [zone["api_url"] for zone in listed.body["zones"]]


async def test_the_poller_renews_a_token_the_child_no_longer_accepts(
    tree: Tree, zones: ZoneStarter
) -> None:
    port = free_port()
    await tree.start(zones, "root")
    leaf = await tree.start(zones, "leaf", zone={"listen": f"127.0.0.1:{port}"})
    await tree.add_child("root", "leaf")
    assert (await tree.poll("root"))[0].ok

    # The child loses its signing key: every token it issued before is now refused.
    await leaf.stop()
    (leaf.settings.secrets_dir / "signing-key.pem").unlink()
    await tree.start_again(zones, "leaf", port)
    await tree.heartbeat("leaf", "h1", inventory={"vcpus": 2})

    outcomes = await tree.poll("root")
    assert [(outcome.ok, outcome.error) for outcome in outcomes] == [(True, None)]
    assert (await tree.info("root"))["hosts"] == 1


async def test_a_loop_closed_behind_zone_adds_back_marks_the_child_offline_at_once(
    tree: Tree, zones: ZoneStarter
) -> None:
    for name in ("a", "b", "c"):
        await tree.start(zones, name, zone={"capabilities": {f"from_{name}": True}})
    await tree.add_child("c", "a")  # c -> a, while a has no children yet
    await tree.add_child("a", "b")  # a -> b
    await tree.add_child("b", "c")  # b -> c: c's knowledge of a is stale, so this passes
    await tree.poll("c")  # c learns that b is below a

    outcomes = await tree.poll("b")
    assert [(outcome.ok, outcome.offline_at_once) for outcome in outcomes] == [(False, True)]
    child = await tree.child("b", "c")
    assert child["state"] == "offline" and child["failures"] == 1
    assert child["last_error"].startswith("loop:")
    assert "from_a" not in (await tree.info("b"))["capabilities"]
