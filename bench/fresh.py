"""How fast a change below reaches the roots, and what idle watches cost.

    .venv/bin/python -m bench.fresh [--changes 100] [--children 200] [--idle-seconds 60]

Freshness: a tree of three levels with two roots, all four zones served in this process,
`poll.interval = 30` (watches on, as deployed):

    world ──► region ──► dc        gpu ──► region

For each kind of change at `dc`, `--changes` times, the time from the change's answer
until each root shows it: a heartbeat that changes its host's free inventory, in the
roots' `/zones/info` (watched the way parents watch, a held `GET /zones/info`); a create
entered at `dc` and its delete, in the roots' `/auth/lookup` (asked again at each change
of the root's info, until it names `dc`, then until it answers 404). Target: p50 under
50 ms and p99 under 250 ms at every root.

Idle cost: a parent in this process watching `--children` real zones (100 to a process,
`bench.fleet`) while nothing changes: the CPU the parent and the children's processes use
over `--idle-seconds`, as a share of one core. Target: under 2 %.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.fleet import ADMIN_PASSWORD, add_service_user, fleet_settings, register_child, start
from bench.poll import login, spawn_fleets
from bench.route import p
from zones.node.cli import event_loop_factory
from zones.node.config import Settings

WATCHING = {"interval": 30.0, "timeout": 5.0, "watch": True}
ROOTS = ("world", "gpu")


def watching_settings(directory: Path, name: str) -> Settings:
    settings = fleet_settings(directory / name, name)
    return settings.model_copy(update={"poll": settings.poll.model_copy(update=WATCHING)})


class Zone:
    """A zone of the tree, and an admin's headers for it."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers = url, headers


Zones = dict[str, Zone]


async def info_of(http: aiohttp.ClientSession, zone: Zone) -> tuple[dict[str, Any], str]:
    async with http.get(f"{zone.url}/zones/info", headers=zone.headers) as answer:
        answer.raise_for_status()
        return (await answer.json())["zone"], answer.headers["ETag"]


async def held_until(
    http: aiohttp.ClientSession, zone: Zone, holds: Callable[[dict[str, Any]], bool]
) -> None:
    """Watch the zone's info (as a parent does) until `holds` is true of it."""
    info, etag = await info_of(http, zone)
    while not holds(info):
        headers = {**zone.headers, "If-None-Match": etag, "Prefer": "wait=10"}
        async with http.get(f"{zone.url}/zones/info", headers=headers) as answer:
            if answer.status == 200:
                info, etag = (await answer.json())["zone"], answer.headers["ETag"]


async def lookup_until(http: aiohttp.ClientSession, zone: Zone, wanted: str | None) -> None:
    """Until the zone's `/auth/lookup` names `wanted` (None: answers 404). Asked again each
    time the zone's info changes (its watch, held as a parent holds one), not in a busy
    loop: the index a lookup reads moves with the info's `clients_changed_at`, and asking
    every few ms would load the very zones being measured."""
    _, etag = await info_of(http, zone)
    while await named_by_lookup(http, zone) != wanted:
        headers = {**zone.headers, "If-None-Match": etag, "Prefer": "wait=10"}
        async with http.get(f"{zone.url}/zones/info", headers=headers) as answer:
            if answer.status == 200:
                etag = answer.headers["ETag"]


async def named_by_lookup(http: aiohttp.ClientSession, zone: Zone) -> str | None:
    async with http.get(f"{zone.url}/auth/lookup?client=admin", headers=zone.headers) as a:
        if a.status not in (200, 404):
            raise RuntimeError(f"{zone.url}/auth/lookup answered {a.status}")
        return str((await a.json())["zone"]["name"]) if a.status == 200 else None


async def seen_at_roots(
    roots: dict[str, Zone], until: Callable[[Zone], Awaitable[None]]
) -> dict[str, float]:
    """Milliseconds from now until `until` returns at each root (10 s at most)."""
    since = time.monotonic()

    async def one(name: str, zone: Zone) -> tuple[str, float]:
        await asyncio.wait_for(until(zone), 10)
        return name, (time.monotonic() - since) * 1000

    return dict(await asyncio.gather(*(one(name, zone) for name, zone in roots.items())))


def free_ram(info: dict[str, Any]) -> float | None:
    return info["free"].get("ram_mb", {}).get("max")


async def tree(http: aiohttp.ClientSession, directory: Path) -> tuple[list[web.AppRunner], Zones]:
    """dc, region and the two roots, each with its service user, added to their parents."""
    runners, zones = [], {}
    for name in ("dc", "region", *ROOTS):
        runner, url = await start(watching_settings(directory, name))
        runners.append(runner)
        await add_service_user(http, url)
        token = await login(http, url, "admin", ADMIN_PASSWORD)
        zones[name] = Zone(url, {"Authorization": f"Bearer {token}"})
    for parent, child in (("region", "dc"), ("world", "region"), ("gpu", "region")):
        await register_child(http, zones[parent].url, zones[parent].headers, zones[child].url)
    return runners, zones


async def freshness(changes: int) -> dict[str, dict[str, list[float]]]:
    """Each change is made at dc (creates and deletes with dc's own admin: no trust needed)."""
    directory = Path(tempfile.mkdtemp(prefix="zones-bench-fresh-"))
    results: dict[str, dict[str, list[float]]] = {
        kind: {root: [] for root in ROOTS}
        for kind in ("heartbeat: info", "create: lookup", "delete: lookup")
    }
    async with aiohttp.ClientSession() as http:
        runners, zones = await tree(http, directory)
        try:
            dc = zones["dc"]
            roots = {name: zones[name] for name in ROOTS}

            async def beat(ram: float) -> None:
                body = {"host": {"inventory": {"ram_mb": ram}, "ttl": 3600}}
                async with http.put(f"{dc.url}/hosts/h1", json=body, headers=dc.headers) as a:
                    a.raise_for_status()

            def showing(ram: float) -> Callable[[Zone], Awaitable[None]]:
                return lambda zone: held_until(http, zone, lambda info: free_ram(info) == ram)

            await beat(1_000_000)
            await seen_at_roots(roots, showing(1_000_000))  # the tree is up: not counted
            for index in range(changes):
                ram = 1_000_000 - 1 - index
                await beat(ram)
                for root, ms in (await seen_at_roots(roots, showing(ram))).items():
                    results["heartbeat: info"][root].append(ms)
            for _ in range(changes):
                body = {"instance": {"name": "fresh", "resources": {"ram_mb": 1}}}
                async with http.post(f"{dc.url}/instances", json=body, headers=dc.headers) as a:
                    a.raise_for_status()
                    instance = (await a.json())["instance"]
                assert instance["status"] == "ACTIVE", instance
                seen = await seen_at_roots(roots, lambda z: lookup_until(http, z, "dc"))
                for root, ms in seen.items():
                    results["create: lookup"][root].append(ms)
                gone = f"{dc.url}/instances/{instance['id']}"
                async with http.delete(gone, headers=dc.headers) as a:
                    a.raise_for_status()
                seen = await seen_at_roots(roots, lambda z: lookup_until(http, z, None))
                for root, ms in seen.items():
                    results["delete: lookup"][root].append(ms)
        finally:
            for runner in reversed(runners):
                await runner.cleanup()
    return results


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def idle_cost(children: int, seconds: float) -> dict[str, float]:
    directory = Path(tempfile.mkdtemp(prefix="zones-bench-idle-"))
    runner, url = await start(watching_settings(directory, "parent"))
    urls, fleets = await spawn_fleets(children, 2, directory, url)
    try:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {await login(http, url, 'admin', ADMIN_PASSWORD)}"}
            for child_url in urls:
                await register_child(http, url, headers, child_url)
            await every_child_online(http, url, headers, len(urls))
            await parent_settled()
            pids = [fleet.pid for fleet in fleets]
            print(f"idle window: {seconds:g} s from now (pids {os.getpid()}, {pids})", flush=True)
            before = (own_cpu_seconds(), sum(cpu_seconds(pid) for pid in pids))
            await asyncio.sleep(seconds)  # the idle window being measured
            after = (own_cpu_seconds(), sum(cpu_seconds(pid) for pid in pids))
    finally:
        for fleet in fleets:
            assert fleet.stdin is not None
            fleet.stdin.close()
            await fleet.wait()
        await runner.cleanup()
    return {
        "parent": 100 * (after[0] - before[0]) / seconds,
        "children": 100 * (after[1] - before[1]) / seconds,
    }


async def every_child_online(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], count: int
) -> None:
    deadline = time.monotonic() + 120
    while True:
        async with http.get(f"{url}/zones", headers=headers) as answer:
            listed = (await answer.json())["zones"]
        if len(listed) == count and all(zone["state"] == "online" for zone in listed):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the children were not all online within 120 s")
        await asyncio.sleep(0.5)


async def parent_settled(window: float = 0.5, timeout: float = 30.0) -> None:
    """Until the parent has used under 5 % of a core in each of two windows in a row: the
    first watches armed and the first index fetches done. Measured anyway after `timeout`."""
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 2 and time.monotonic() < deadline:
        before = own_cpu_seconds()
        await asyncio.sleep(window)  # a window measured, not a wait for a condition
        quiet = quiet + 1 if own_cpu_seconds() - before < 0.05 * window else 0
    if quiet < 2:
        print(f"the parent did not go quiet within {timeout:g} s; measuring anyway")


async def bench(changes: int, children: int, idle_seconds: float) -> None:
    results = await freshness(changes)
    print(f"freshness, {changes} changes each, poll.interval = 30 s (ms from the change's answer)")
    print(f"{'change: shown in':<20} {'root':<6} {'p50':>8} {'p99':>8} {'max':>8}  target")
    for kind, per_root in results.items():
        for root, samples in per_root.items():
            p50, p99 = statistics.median(samples), p(samples, 99)
            met = "met" if p50 < 50 and p99 < 250 else "MISSED"
            print(f"{kind:<20} {root:<6} {p50:8.1f} {p99:8.1f} {max(samples):8.1f}  {met}")
    if idle_seconds > 0:
        cost = await idle_cost(children, idle_seconds)
        total = cost["parent"] + cost["children"]
        print(
            f"idle watches: {children} children over {idle_seconds:g} s: parent "
            f"{cost['parent']:.2f} % + children {cost['children']:.2f} % = {total:.2f} % of one "
            f"core (target under 2 %: {'met' if total < 2 else 'MISSED'})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--children", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    arguments = parser.parse_args()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(bench(arguments.changes, arguments.children, arguments.idle_seconds))


if __name__ == "__main__":
    main()
