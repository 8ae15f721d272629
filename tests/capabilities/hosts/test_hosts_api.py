"""Hosts: heartbeats in, live hosts out, and a ttl that ends a silent host with no cleanup job."""

from __future__ import annotations

from datetime import datetime

import aiohttp
import pytest

from tests.harness import Api, RunningZone, eventually

BEAT = {
    "capabilities": {"os": "linux", "gpu_count": 2, "ssd": True},
    "inventory": {"ram_mb": 65536, "vcpus": 32},
    "ttl": 30,
}


async def test_a_heartbeat_makes_a_live_host_with_typed_values(admin: Api) -> None:
    answer = await admin.call("PUT", "/hosts/dc1-host-1", json_body={"host": BEAT})
    assert answer.status == 200
    host = answer.body["host"]
    assert host["name"] == "dc1-host-1"
    assert host["capabilities"] == {"os": "linux", "gpu_count": 2.0, "ssd": True}
    assert host["inventory"] == {"ram_mb": 65536.0, "vcpus": 32.0}
    assert host["allocations"] == {"ram_mb": 0.0, "vcpus": 0.0}
    assert host["free"] == {"ram_mb": 65536.0, "vcpus": 32.0}
    assert datetime.fromisoformat(host["expires_at"]).tzinfo is not None

    listed = await admin.call("GET", "/hosts")
    assert listed.body["hosts"] == [host]


async def test_a_later_heartbeat_replaces_what_the_host_said(admin: Api) -> None:
    await admin.call("PUT", "/hosts/h1", json_body={"host": BEAT})
    second = {"capabilities": {"os": "windows"}, "inventory": {"ram_mb": 1024}, "ttl": 30}
    answer = await admin.call("PUT", "/hosts/h1", json_body={"host": second})
    assert answer.body["host"]["capabilities"] == {"os": "windows"}
    assert answer.body["host"]["inventory"] == {"ram_mb": 1024.0}
    assert len((await admin.call("GET", "/hosts")).body["hosts"]) == 1


async def test_a_host_whose_ttl_passes_is_gone(admin: Api) -> None:
    await admin.call("PUT", "/hosts/brief", json_body={"host": {**BEAT, "ttl": 0.5}})
    await admin.call("PUT", "/hosts/lasting", json_body={"host": BEAT})

    async def only_lasting_left() -> bool:
        hosts = (await admin.call("GET", "/hosts")).body["hosts"]
        return [host["name"] for host in hosts] == ["lasting"]

    await eventually(only_lasting_left, timeout=10)
    info = (await admin.call("GET", "/zones/info")).body["zone"]
    assert info["hosts"] == 1
    # A heartbeat brings it back: presence is only ever "what was said lately".
    await admin.call("PUT", "/hosts/brief", json_body={"host": BEAT})
    assert len((await admin.call("GET", "/hosts")).body["hosts"]) == 2


async def test_delete_forgets_a_host_and_unknown_is_404(admin: Api) -> None:
    await admin.call("PUT", "/hosts/h1", json_body={"host": BEAT})
    assert (await admin.call("DELETE", "/hosts/h1")).status == 204
    assert (await admin.call("GET", "/hosts")).body["hosts"] == []
    missing = await admin.call("DELETE", "/hosts/h1")
    assert missing.status == 404
    assert "h1" in missing.problem["detail"]


async def test_zone_info_counts_own_hosts(admin: Api) -> None:
    await admin.call("PUT", "/hosts/a", json_body={"host": BEAT})
    small = {"capabilities": {"os": "windows"}, "inventory": {"ram_mb": 1024}, "ttl": 30}
    await admin.call("PUT", "/hosts/b", json_body={"host": small})
    info = (await admin.call("GET", "/zones/info")).body["zone"]
    assert info["hosts"] == 2
    assert info["capabilities"]["os"] == {"type": "string", "values": ["linux", "windows"]}
    assert info["capabilities"]["ssd"] == {"type": "bool", "values": [True]}
    assert info["free"]["ram_mb"] == {"max": 65536.0, "sum": 66560.0}
    assert info["free"]["vcpus"] == {"max": 32.0, "sum": 32.0}


async def test_a_host_user_may_heartbeat_but_not_list(
    http: aiohttp.ClientSession, zone: RunningZone, admin: Api
) -> None:
    agent = {"name": "agent", "password": "agent-pw", "client": "ops", "roles": ["host"]}
    await admin.call("POST", "/users", json_body={"user": agent})
    host_api = await Api(http, zone.url).as_user("agent", "agent-pw")
    assert (await host_api.call("PUT", "/hosts/h1", json_body={"host": BEAT})).status == 200
    assert (await host_api.call("GET", "/hosts")).status == 403
    assert (await host_api.call("DELETE", "/hosts/h1")).status == 403
    assert (
        await Api(http, zone.url).call("PUT", "/hosts/h1", json_body={"host": BEAT})
    ).status == 401


def beat_with(**changes: object) -> dict[str, object]:
    return {"host": {**BEAT, **changes}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (beat_with(inventory={"ram_mb": -1}), "host.inventory.ram_mb"),
        (beat_with(inventory={"ram_mb": "lots"}), "host.inventory.ram_mb"),
        (beat_with(inventory={"ram_mb": None}), "host.inventory.ram_mb"),
        (beat_with(inventory={"ram_mb": True}), "host.inventory.ram_mb"),
        (beat_with(inventory=[1]), "host.inventory"),
        (beat_with(inventory={"Bad Key": 1}), "host.inventory"),
        (beat_with(capabilities={"os": {"name": "linux"}}), "host.capabilities"),
        (beat_with(capabilities={"os": ["linux"]}), "host.capabilities"),
        (beat_with(capabilities={"k" * 300: "v"}), "host.capabilities"),
        (beat_with(capabilities={"os": "x" * 300}), "host.capabilities"),
        (beat_with(capabilities={f"k{i}": i for i in range(257)}), "host.capabilities"),
        (beat_with(capabilities="linux"), "host.capabilities"),
        (beat_with(ttl=0), "host.ttl"),
        (beat_with(ttl=-5), "host.ttl"),
        (beat_with(ttl="30"), "host.ttl"),
        (beat_with(ttl=None), "host.ttl"),
        (beat_with(extra=1), "host.extra"),
        ({"capabilities": {}}, "host"),
        ({"host": "h"}, "host"),
    ],
)
async def test_a_bad_heartbeat_is_400_naming_the_field_and_leaves_no_host(
    admin: Api, body: dict[str, object], field: str
) -> None:
    answer = await admin.call("PUT", "/hosts/h1", json_body=body)
    assert answer.status == 400, answer
    assert field in answer.problem["detail"]
    assert (await admin.call("GET", "/hosts")).body["hosts"] == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("{not json", "malformed JSON"), ("[1]", "must be a JSON object"), ("", "JSON object")],
)
async def test_a_malformed_heartbeat_body_is_400(admin: Api, raw: str, expected: str) -> None:
    answer = await admin.call("PUT", "/hosts/h1", data=raw)
    assert answer.status == 400
    assert expected in answer.problem["detail"]


@pytest.mark.parametrize("name", ["a" * 256, "-leading-dash", "has space", "sl%2Fash"])
async def test_a_bad_host_name_is_400(admin: Api, name: str) -> None:
    answer = await admin.call("PUT", f"/hosts/{name}", json_body={"host": BEAT})
    assert answer.status == 400
    assert answer.problem["detail"].startswith("name:")
    assert (await admin.call("GET", "/hosts")).body["hosts"] == []


async def test_an_oversized_heartbeat_is_413(admin: Api) -> None:
    huge = beat_with(capabilities={"blob": "x" * (2 * 1024 * 1024)})
    answer = await admin.call("PUT", "/hosts/h1", json_body=huge)
    assert answer.status == 413
    assert (await admin.call("GET", "/hosts")).body["hosts"] == []


async def test_a_live_host_belongs_to_the_account_that_reports_it(
    http: aiohttp.ClientSession, zone: RunningZone, admin: Api
) -> None:
    for name in ("agent-a", "agent-b"):
        agent = {"name": name, "password": "agent-pw", "client": "ops", "roles": ["host"]}
        await admin.call("POST", "/users", json_body={"user": agent})
    agent_a = await Api(http, zone.url).as_user("agent-a", "agent-pw")
    agent_b = await Api(http, zone.url).as_user("agent-b", "agent-pw")
    brief = {"host": {**BEAT, "ttl": 0.5}}
    assert (await agent_a.call("PUT", "/hosts/h1", json_body=brief)).status == 200

    hijack = await agent_b.call("PUT", "/hosts/h1", json_body={"host": {**BEAT, "inventory": {}}})
    assert hijack.status == 403
    assert "another account" in hijack.problem["detail"]

    async def taken_once_expired() -> bool:
        return (await agent_b.call("PUT", "/hosts/h1", json_body={"host": BEAT})).status == 200

    await eventually(taken_once_expired, timeout=10)
    # An admin may always speak for a host (and takes it over).
    assert (await admin.call("PUT", "/hosts/h1", json_body={"host": BEAT})).status == 200
    assert (await agent_b.call("PUT", "/hosts/h1", json_body={"host": BEAT})).status == 403
