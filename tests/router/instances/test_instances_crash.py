"""A leaf killed (SIGKILL) in the middle of a burst of creates: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Answer, Api, ZoneProcess, free_port, write_config
from zones.router.following.appkeys import POLLER

BURST = 40
KILL_AFTER = 8


def create(instance_id: str) -> dict[str, Any]:
    return {
        "instance": {"id": instance_id, "name": f"b-{instance_id[:8]}", "resources": {"ram_mb": 1}}
    }


async def test_a_leaf_killed_during_a_burst_keeps_every_created_instance_exactly_once(
    tmp_path: Path, http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    root = await zones("root", router={"child_timeout": 3.0})
    port = free_port()
    config = write_config(
        tmp_path / "leaf.toml", "leaf", None, extra=f'trusted_issuers = ["{root.url}"]'
    )
    config.write_text(config.read_text().replace("127.0.0.1:0", f"127.0.0.1:{port}"))
    leaf = ZoneProcess(config)
    try:
        leaf_admin = await Api(http, await leaf.start()).as_user()
        service = {"name": "svc", "password": "svc-pw", "client": "ops", "roles": ["service"]}
        await leaf_admin.call("POST", "/users", json_body={"user": service})
        beat = {"host": {"inventory": {"ram_mb": 1_000_000}, "ttl": 600}}
        await leaf_admin.call("PUT", "/hosts/big", json_body=beat)
        admin = await Api(http, root.url).as_user()
        registration = {"api_url": leaf.url, "username": "svc", "password": "svc-pw"}
        assert (await admin.call("POST", "/zones", json_body={"zone": registration})).status == 201
        await root.app[POLLER].run_once()

        ids = [str(uuid.uuid4()) for _ in range(BURST)]
        tasks = [
            asyncio.create_task(admin.call("POST", "/instances", json_body=create(i))) for i in ids
        ]
        for answered, finished in enumerate(asyncio.as_completed(tasks), start=1):
            await finished
            if answered == KILL_AFTER:
                await leaf.kill()
        first: dict[str, Answer] = {i: task.result() for i, task in zip(ids, tasks, strict=True)}
        assert all(answer.status in (201, 502, 504) for answer in first.values())
        assert sum(answer.status == 201 for answer in first.values()) >= KILL_AFTER

        await leaf.start()
        final = dict(first)
        for instance_id, answer in first.items():
            if answer.status != 201:  # told to retry with the same id: do so
                final[instance_id] = await admin.call(
                    "POST", "/instances", json_body=create(instance_id)
                )
        assert {answer.status for answer in final.values()} == {201}

        below = await leaf_admin.call("GET", "/instances?all_clients=true&limit=1000")
        at_root = await admin.call("GET", "/instances?all_clients=true&limit=1000")
        held_below = [i["id"] for i in below.body["instances"]]
        listed = [i["id"] for i in at_root.body["instances"]]
        assert len(held_below) == len(set(held_below))
        assert sorted(listed) == sorted(ids)  # every created id, once
        for instance_id, answer in final.items():
            shown = await admin.call("GET", f"/instances/{instance_id}")
            assert shown.status == 200
            assert shown.body["instance"]["status"] == answer.body["instance"]["status"]
            where = shown.body["instance"]["zone"]
            assert (where == "leaf") == (instance_id in held_below)
    finally:
        await leaf.kill()


async def test_a_leaf_killed_with_sigkill_is_named_in_lists_and_creates_go_elsewhere(
    tmp_path: Path, http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    root = await zones("root", router={"child_timeout": 2.0})
    admin = await Api(http, root.url).as_user()
    service = {"name": "svc", "password": "svc-pw", "client": "ops", "roles": ["service"]}
    beat = {"host": {"inventory": {"ram_mb": 1000}, "ttl": 600}}

    config = write_config(
        tmp_path / "doomed.toml",
        "doomed",
        None,
        extra=f'trusted_issuers = ["{root.url}"]',
    )
    config.write_text(
        config.read_text().replace(
            'name = "doomed"', 'name = "doomed"\ncapabilities = { site = "a" }'
        )
    )
    doomed = ZoneProcess(config)
    survivor = await zones("survivor", auth={"trusted_issuers": [root.url]})
    try:
        for url in (await doomed.start(), survivor.url):
            child_admin = await Api(http, url).as_user()
            await child_admin.call("POST", "/users", json_body={"user": service})
            await child_admin.call("PUT", "/hosts/h1", json_body=beat)
            zone = {"api_url": url, "username": "svc", "password": "svc-pw"}
            assert (await admin.call("POST", "/zones", json_body={"zone": zone})).status == 201
        await root.app[POLLER].run_once()
        there = {"instance": {"name": "a", "requirements": {"site": "a"}}}
        placed = (await admin.call("POST", "/instances", json_body=there)).body["instance"]
        assert placed["zone"] == "doomed"

        await doomed.kill()  # SIGKILL: no goodbye, the root still thinks it is online
        started = asyncio.get_running_loop().time()
        listed = (await admin.call("GET", "/instances")).body
        assert asyncio.get_running_loop().time() - started < 2.0 + 1.5
        assert listed["unreachable_zones"] == ["doomed"]
        assert [(i["id"], i["status"]) for i in listed["instances"]] == [(placed["id"], "UNKNOWN")]

        anywhere = (
            await admin.call("POST", "/instances", json_body={"instance": {"name": "b"}})
        ).body
        assert (anywhere["instance"]["status"], anywhere["instance"]["zone"]) == (
            "ACTIVE",
            "survivor",
        )
    finally:
        await doomed.kill()
