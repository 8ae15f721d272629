"""`GET /metrics`: after a create, a forward and a poll, the named series with their labels."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ZoneStarter
from tests.harness import Answer
from tests.router.tree import Tree

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
MEMBER = {"name": "mia", "password": "mia-pw", "client": "acme", "roles": ["member"]}


async def root_over_leaf(http: aiohttp.ClientSession, zones: ZoneStarter) -> Tree:
    tree = Tree(http)
    root = await tree.start(zones, "root", metrics={"token": "scraper-secret"})
    await tree.start(zones, "leaf", auth={"trusted_issuers": [root.url]})
    await tree.heartbeat("leaf", "h1", inventory={"ram_mb": 1024, "vcpus": 8})
    await tree.add_child("root", "leaf")
    await tree.poll("root")
    return tree


def samples(answer: Answer) -> Samples:
    assert answer.status == 200, answer
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.body)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


async def scrape(tree: Tree, zone: str, path: str = "/metrics") -> Samples:
    return samples(await tree.admins[zone].call("GET", path))


async def test_a_create_a_forward_and_a_poll_show_in_the_metrics(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await root_over_leaf(http, zones)
    body = {"instance": {"name": "web", "resources": {"ram_mb": 256}}}
    made = await tree.admins["root"].call("POST", "/instances", json_body=body)
    assert made.status == 201, made
    shown = await tree.admins["root"].call("GET", f"/instances/{made.body['instance']['id']}")
    assert shown.status == 200, shown
    root = await scrape(tree, "root")
    assert value(root, "zones_child_up", child="leaf") == 1
    assert value(root, "zones_child_state", child="leaf", state="online") == 1
    assert value(root, "zones_child_state", child="leaf", state="offline") == 0
    assert (value(root, "zones_child_poll_seconds_count", child="leaf") or 0) >= 1
    assert (value(root, "zones_child_last_seen_timestamp_seconds", child="leaf") or 0) > 1.7e9
    forwarded = value(
        root, "zones_forward_seconds_count", child="leaf", method="POST", outcome="answered"
    )
    assert forwarded == 1
    assert value(root, "zones_forward_seconds_bucket", child="leaf", method="POST",
                 outcome="answered", le="10.0") == 1  # fmt: skip
    assert value(root, "zones_placements_total", outcome="child") == 1
    assert value(root, "zones_http_requests_total", method="POST", route="/instances",
                 status="201") == 1  # fmt: skip
    assert value(root, "zones_http_requests_total", method="GET", route="/instances/{id}",
                 status="200") == 1  # fmt: skip
    assert (value(root, "zones_http_request_seconds_count", method="GET",
                  route="/instances/{id}") or 0) >= 1  # fmt: skip
    assert value(root, "zones_hosts_live") == 0  # its own hosts only
    leaf = await scrape(tree, "leaf")
    assert value(leaf, "zones_placements_total", outcome="local") == 1
    assert value(leaf, "zones_hosts_live") == 1
    assert value(leaf, "zones_instances", status="ACTIVE") == 1
    assert value(leaf, "zones_free", resource="ram_mb", kind="max") == 768
    assert value(leaf, "zones_free", resource="vcpus", kind="sum") == 8


async def test_a_child_taken_down_flips_its_up_series_to_zero(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await root_over_leaf(http, zones)
    await tree.zones["leaf"].stop()
    await tree.poll("root")
    await tree.poll("root")  # QUIET_POLLING: offline after two failures
    root = await scrape(tree, "root")
    assert value(root, "zones_child_up", child="leaf") == 0
    assert value(root, "zones_child_state", child="leaf", state="offline") == 1
    assert value(root, "zones_child_state", child="leaf", state="online") == 0


async def test_a_leafs_metrics_through_the_root(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await root_over_leaf(http, zones)
    answer = await tree.admins["root"].call("GET", "/metrics?zone=leaf")
    assert answer.headers["X-Zones-Path"] == "root,leaf"
    assert value(samples(answer), "zones_hosts_live") == 1


async def test_metrics_are_for_admins_or_the_scrapers_token(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await root_over_leaf(http, zones)
    root = tree.admins["root"]
    assert (await root.call("GET", "/metrics", token="")).status == 401
    assert (await root.call("GET", "/metrics", token="scraper-secret")).status == 200
    made = await root.call("POST", "/users", json_body={"user": MEMBER})
    assert made.status == 201, made
    member = await root.as_user(MEMBER["name"], MEMBER["password"])
    assert (await member.call("GET", "/metrics")).status == 403


async def test_an_open_zone_answers_anyone(http: aiohttp.ClientSession, zones: ZoneStarter) -> None:
    tree = Tree(http)
    await tree.start(zones, "open", metrics={"open": True})
    answer = await tree.admins["open"].call("GET", "/metrics", token="")
    assert value(samples(answer), "zones_hosts_live") == 0
