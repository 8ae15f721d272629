"""`[router] allowed_children`: children only where the operator allows them, checked when
registered and again on every connection."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from tests.conftest import ZoneStarter
from tests.router.fake_child import AppServer, serve_app
from tests.router.tree import SERVICE_USER, Tree

__all__ = ["serve_app"]  # a fixture, used by name
ELSEWHERE = "http://10.20.30.40:8100"  # never contacted: refused before any connection
ONLY_TEN = {"allowed_children": ["10.0.0.0/8"]}


def credentials(api_url: str) -> dict[str, Any]:
    return {"api_url": api_url, "username": SERVICE_USER["name"], "password": "pw"}


async def test_zone_add_outside_the_allowed_children_is_a_400_naming_the_field(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = Tree(http)
    await tree.start(zones, "root")  # tests allow loopback only (tests/harness.py)
    refused = await tree.admins["root"].call(
        "POST", "/zones", json_body={"zone": credentials(ELSEWHERE)}
    )
    assert refused.status == 400, refused
    assert refused.problem["detail"] == (
        "zone.api_url: 10.20.30.40 is outside router.allowed_children"
    )
    listed = await tree.admins["root"].call("GET", "/zones")
    assert listed.body["zones"] == []


async def test_a_change_of_url_outside_them_is_a_400_and_changes_nothing(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = Tree(http)
    await tree.start(zones, "root")
    await tree.start(zones, "leaf")
    added = await tree.add_child("root", "leaf")
    body = {"zone": {"api_url": ELSEWHERE}}
    refused = await tree.admins["root"].call("PUT", f"/zones/{added['id']}", json_body=body)
    assert refused.status == 400, refused
    assert refused.problem["detail"].startswith("zone.api_url: 10.20.30.40 is outside")
    shown = await tree.admins["root"].call("GET", f"/zones/{added['id']}")
    assert shown.body["zone"]["api_url"] == tree.zones["leaf"].url


async def test_a_name_resolving_to_an_allowed_address_is_allowed(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = Tree(http)
    await tree.start(zones, "root", router={"allowed_children": ["127.0.0.0/8"]})
    await tree.start(zones, "leaf")
    by_name = tree.zones["leaf"].url.replace("127.0.0.1", "localhost")
    added = await tree.add_child("root", "leaf", api_url=by_name)
    assert added["state"] == "online", added


async def child_requests(tree: Tree, name: str) -> int:
    """How many requests the zone has served, as its own metrics count them."""
    answer = await tree.admins[name].call("GET", "/metrics")
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in answer.body.splitlines()
        if line.startswith("zones_http_requests_total{") and 'route="/zones/info"' in line
    )


async def test_children_outside_the_rules_are_not_contacted_once_the_rules_change(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = Tree(http)
    root = await tree.start(zones, "root")
    await tree.start(zones, "by-address")
    await tree.start(zones, "by-name")
    await tree.add_child("root", "by-address")
    by_name = tree.zones["by-name"].url.replace("127.0.0.1", "localhost")
    await tree.add_child("root", "by-name", api_url=by_name)
    port = root.settings.listen_port
    await root.stop()
    # The same children, now where the rules do not allow them (as if their names had come
    # to resolve elsewhere): the zone keeps them and tells why, but never connects.
    await tree.start_again(zones, "root", port, router=ONLY_TEN)
    before = {name: await child_requests(tree, name) for name in ("by-address", "by-name")}
    await tree.poll("root")
    after = {name: await child_requests(tree, name) for name in ("by-address", "by-name")}
    assert after == before
    listed = await tree.admins["root"].call("GET", "/zones")
    errors = {zone["name"]: zone["last_error"] for zone in listed.body["zones"]}
    assert "127.0.0.1 is outside router.allowed_children" in errors["by-address"], errors
    assert "localhost resolves to" in errors["by-name"], errors
    assert "outside router.allowed_children" in errors["by-name"], errors


async def test_a_childs_redirect_is_never_followed(
    http: aiohttp.ClientSession, zones: ZoneStarter, serve_app: AppServer
) -> None:
    """A "child" that answers everything with a redirect to another address: the zone
    does not follow it (the other address, allowed or not, is never contacted)."""
    contacted: list[str] = []

    async def count(request: web.Request) -> web.Response:
        contacted.append(request.path)
        return web.json_response({})

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"{elsewhere}{request.path}")

    counting, hostile = web.Application(), web.Application()
    counting.router.add_route("*", "/{tail:.*}", count)
    hostile.router.add_route("*", "/{tail:.*}", redirect)
    elsewhere = await serve_app(counting)
    hostile_url = await serve_app(hostile)
    tree = Tree(http)
    await tree.start(zones, "root")
    added = await tree.admins["root"].call(
        "POST", "/zones", json_body={"zone": credentials(hostile_url)}
    )
    assert added.status in (201, 502), added
    await tree.poll("root")
    assert contacted == []


async def test_hosts_no_resolver_takes_or_odd_spellings_of_addresses_are_400(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = Tree(http)
    await tree.start(zones, "root")
    for url in ("http://" + "a" * 64 + ".example:8100", "http://127.1:8100", "http://2130706433"):
        added = await tree.admins["root"].call(
            "POST", "/zones", json_body={"zone": credentials(url)}
        )
        assert added.status == 400, (url, added)
        assert added.problem["detail"].startswith("zone.api_url: "), added
