"""Seed 004's data centre on this machine: a parent over 200 huddle zones of 200 hosts each.

    .venv/bin/python -m bench.scale [--children 200] [--hosts 200] [--processes 2]
                                    [--clients 10000] [--steady 60] [--ttl 300]

The huddles are real zones, many to a process (`bench.fleet`); the data-centre zone
`dc` runs in this process, beside a `small` zone over 10 huddles of 10 hosts each (its
own fleet process), the yardstick for creates. Every huddle trusts both zones' tokens.
What it measures, in order:

1. host registration: every host's first heartbeat (`PUT /hosts/{name}`, 3 resources and
   2 capabilities), at most REGISTER_CONCURRENCY at once: heartbeats per second;
2. a heartbeat that changes nothing at a huddle holding its 200 hosts (p50);
3. zone-add of every huddle at `dc`, then one poll round after every huddle changed and
   one after none did, with the default poll timeout: wall, `dc`'s CPU (this process
   does nothing else meanwhile), failed children;
4. `dc`'s own `/zones/info` (p50, bytes);
5. creates: at `dc`, at `small`, and entering at a huddle (p50 each, interleaved);
6. `/auth/lookup` at `dc` with CLIENTS clients: each client's instance is made at a huddle
   by this bench acting as that huddle's parent (a service token and `X-Zones-Moving`
   naming the client, the header a parent sends with a moved instance), so that no
   10,000 users need logging in; `dc` learns them through its polls' index sync;
7. the RSS of `dc` (this process) and of each fleet process;
8. the steady load: every host heartbeating (unchanged) every ttl/3 seconds for STEADY
   seconds; the huddles' processes' CPU over that time, as a share of one core.

Every loop is bounded in count and time; all traffic is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.fleet import ADMIN_PASSWORD, SERVICE_USER, fleet_settings, register_child, start
from bench.poll import login, spawn_fleets, timed
from zones.node.cli import event_loop_factory
from zones.router.children.forwarding import MOVING_HEADER, SERVICE_TOKEN_HEADER
from zones.router.following.appkeys import POLLER

REGISTER_CONCURRENCY = 64
SEED_CONCURRENCY = 32
SAMPLES = 200
SMALL_CHILDREN, SMALL_HOSTS = 10, 10
PHASE_LIMIT = 900.0  # seconds any one phase may take before the bench gives up
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def host_body(index: int, ttl: float) -> dict[str, Any]:
    return {
        "host": {
            "capabilities": {"os": "linux", "rack": f"r{index % 20}"},
            "inventory": {"ram_mb": 262144, "vcpus": 64, "disk_gb": 4000},
            "ttl": ttl,
        }
    }


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


async def bounded(actions: list[Callable[[], Awaitable[object]]], limit: int) -> None:
    """Run every action, at most `limit` at once, within PHASE_LIMIT."""
    gate = asyncio.Semaphore(limit)

    async def one(action: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            await action()

    async with asyncio.timeout(PHASE_LIMIT):
        await asyncio.gather(*(one(action) for action in actions))


async def timed_ms(action: Callable[[], Awaitable[object]]) -> float:
    return (await timed(action)).wall_ms


class Scale:
    """One run of the bench, with what it measured."""

    def __init__(self, http: aiohttp.ClientSession, arguments: argparse.Namespace) -> None:
        self.http = http
        self.arguments = arguments
        self.results: dict[str, str] = {}
        self.admin_tokens: dict[str, str] = {}

    def record(self, what: str, value: str) -> None:
        self.results[what] = value
        print(f"  {what}: {value}", file=sys.stderr, flush=True)

    def auth(self, url: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_tokens[url]}"}

    async def put_host(self, url: str, name: str, body: dict[str, Any]) -> None:
        async with self.http.put(f"{url}/hosts/{name}", json=body, headers=self.auth(url)) as put:
            if put.status != 200:
                raise RuntimeError(f"{url}/hosts/{name}: {put.status} {await put.text()}")

    async def register_hosts(self, urls: list[str], hosts: int) -> None:
        ttl = self.arguments.ttl
        actions = [
            lambda url=url, index=index: self.put_host(url, f"h{index}", host_body(index, ttl))
            for index in range(hosts)
            for url in urls
        ]
        started = time.perf_counter()
        await bounded(actions, REGISTER_CONCURRENCY)
        wall = time.perf_counter() - started
        self.record("host registration", f"{len(actions)} hosts in {wall:.1f} s, "
                    f"{len(actions) / wall:.0f} heartbeats/s")  # fmt: skip

    async def heartbeat_p50(self, url: str) -> None:
        body = host_body(0, self.arguments.ttl)
        samples = [await timed_ms(lambda: self.put_host(url, "h0", body)) for _ in range(SAMPLES)]
        hosts = self.arguments.hosts
        self.record(f"heartbeat p50 at a huddle of {hosts} hosts", f"{p50(samples):.2f} ms")

    async def rounds(self, dc_app: Any, urls: list[str]) -> None:
        poller, ttl = dc_app[POLLER], self.arguments.ttl
        await poller.run_once()  # logs in to every child
        await bounded(
            [lambda url=url: self.put_host(url, "h0", host_body(1, ttl)) for url in urls],
            REGISTER_CONCURRENCY,
        )
        for kind in ("changed", "unchanged"):
            wall, cpu = time.perf_counter(), time.process_time()
            outcomes = await poller.run_once()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            failed = [outcome for outcome in outcomes if not outcome.ok]
            changed = sum(outcome.info is not None for outcome in outcomes)
            self.record(
                f"poll round, {kind}",
                f"wall {wall * 1000:.0f} ms, dc CPU {cpu * 1000:.0f} ms, "
                f"{changed} changed, {len(failed)} failed"
                + (f" ({failed[0].error})" if failed else ""),
            )

    async def info(self, dc_url: str) -> None:
        size = 0

        async def read() -> None:
            nonlocal size
            async with self.http.get(f"{dc_url}/zones/info", headers=self.auth(dc_url)) as got:
                size = len(await got.read())

        samples = [await timed_ms(read) for _ in range(SAMPLES)]
        self.record("dc /zones/info", f"p50 {p50(samples):.2f} ms, {size} bytes")

    async def create(self, url: str) -> None:
        body = {"instance": {"name": "probe", "resources": {"ram_mb": 1}}}
        async with self.http.post(f"{url}/instances", json=body, headers=self.auth(url)) as made:
            if made.status != 201:
                raise RuntimeError(f"create at {url}: {made.status} {await made.text()}")

    async def creates(self, dc_url: str, small_url: str, huddle_url: str) -> None:
        samples: dict[str, list[float]] = {"dc": [], "small": [], "huddle": []}
        places = {"dc": dc_url, "small": small_url, "huddle": huddle_url}
        for _ in range(SAMPLES // 2):
            for name, url in places.items():
                samples[name].append(await timed_ms(lambda url=url: self.create(url)))
        dc, small = p50(samples["dc"]), p50(samples["small"])
        shape = f"{self.arguments.children} x {self.arguments.hosts}"
        self.record(f"create p50 at dc ({shape})", f"{dc:.2f} ms")
        self.record("create p50 at small (10 x 10)", f"{small:.2f} ms")
        self.record("create p50 entering at a huddle", f"{p50(samples['huddle']):.2f} ms")
        self.record("create at dc / at small", f"{dc / small:.2f}")

    async def seed_clients(self, urls: list[str], clients: int) -> None:
        service = {url: await login(self.http, url, SERVICE_USER["name"], SERVICE_USER["password"])
                   for url in urls}  # fmt: skip
        created = datetime.now(UTC).isoformat()

        async def one(index: int) -> None:
            url = urls[index % len(urls)]
            headers = {
                **self.auth(url),
                SERVICE_TOKEN_HEADER: service[url],
                MOVING_HEADER: f"k{index},{created}",
            }
            body = {"instance": {"name": f"seed-{index}", "resources": {"ram_mb": 1}}}
            async with self.http.post(f"{url}/instances", json=body, headers=headers) as made:
                if made.status != 201:
                    raise RuntimeError(f"seed at {url}: {made.status} {await made.text()}")

        started = time.perf_counter()
        await bounded(
            [lambda index=index: one(index) for index in range(clients)], SEED_CONCURRENCY
        )
        self.record("seeding clients", f"{clients} in {time.perf_counter() - started:.1f} s")

    async def lookup(self, dc_app: Any, dc_url: str, clients: int) -> None:
        poller = dc_app[POLLER]
        deadline = time.monotonic() + PHASE_LIMIT
        rounds = 0
        while True:
            rounds += 1
            await poller.run_once()
            url = f"{dc_url}/auth/lookup?client=k{clients - 1}"
            async with self.http.get(url, headers=self.auth(dc_url)) as found:
                if found.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("dc did not learn the clients in time")
        self.record("dc learnt every client", f"after {rounds} poll round(s)")
        picks = [random.randrange(clients) for _ in range(SAMPLES)]

        async def ask(index: int) -> None:
            url = f"{dc_url}/auth/lookup?client=k{index}"
            async with self.http.get(url, headers=self.auth(dc_url)) as found:
                if found.status != 200:
                    raise RuntimeError(f"lookup k{index}: {found.status}")

        samples = [await timed_ms(lambda index=index: ask(index)) for index in picks]
        self.record(f"dc /auth/lookup p50, {clients} clients", f"{p50(samples):.2f} ms")

    async def steady(self, urls: list[str], hosts: int, fleet_pids: list[int]) -> None:
        ttl, seconds = self.arguments.ttl, self.arguments.steady
        everyone = [(url, index) for index in range(hosts) for url in urls]
        rate = len(everyone) / (ttl / 3)
        before = [cpu_seconds(pid) for pid in fleet_pids]
        own_before = time.process_time()
        started = time.monotonic()
        sent = 0
        pending: set[asyncio.Task[None]] = set()
        gate = asyncio.Semaphore(REGISTER_CONCURRENCY)

        async def beat(url: str, index: int) -> None:
            async with gate:
                await self.put_host(url, f"h{index}", host_body(index, ttl))

        while (elapsed := time.monotonic() - started) < seconds:
            due = min(int(elapsed * rate), len(everyone) * 2)
            while sent < due:
                url, index = everyone[sent % len(everyone)]
                task = asyncio.create_task(beat(url, index))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
            await asyncio.sleep(0.01)
        async with asyncio.timeout(PHASE_LIMIT):
            await asyncio.gather(*pending)
        wall = time.monotonic() - started
        used = sum(cpu_seconds(pid) - was for pid, was in zip(fleet_pids, before, strict=True))
        self.record(
            f"steady heartbeats, ttl {ttl:g} s (every {ttl / 3:g} s)",
            f"{sent} in {wall:.1f} s ({sent / wall:.0f}/s, asked {rate:.0f}/s); "
            f"huddle processes {used / wall * 100:.0f}% of one core; "
            f"this driver {(time.process_time() - own_before) / wall * 100:.0f}%",
        )


async def bench(arguments: argparse.Namespace) -> dict[str, str]:
    directory = Path(tempfile.mkdtemp(prefix="zones-bench-scale-"))
    children, hosts = arguments.children, arguments.hosts
    dc_runner, dc_url = await start(fleet_settings(directory / "dc", "dc"))
    small_runner, small_url = await start(fleet_settings(directory / "small", "small"))
    print(f"starting {children} huddles in {arguments.processes} processes ...", file=sys.stderr)
    urls, fleets = await spawn_fleets(children, arguments.processes, directory, dc_url, small_url)
    small_urls, small_fleets = await spawn_fleets(
        SMALL_CHILDREN, 1, directory / "small-fleet", dc_url, small_url
    )
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=REGISTER_CONCURRENCY * 2)
        ) as http:
            scale = Scale(http, arguments)
            for url in [dc_url, small_url, *urls, *small_urls]:
                scale.admin_tokens[url] = await login(http, url, "admin", ADMIN_PASSWORD)
            await scale.register_hosts(small_urls, SMALL_HOSTS)
            await scale.register_hosts(urls, hosts)
            await scale.heartbeat_p50(urls[0])
            for parent, below in ((dc_url, urls), (small_url, small_urls)):
                await bounded(
                    [
                        lambda u=u, p=parent: register_child(http, p, scale.auth(p), u)
                        for u in below
                    ],
                    REGISTER_CONCURRENCY,
                )
            await small_runner.app[POLLER].run_once()
            await scale.rounds(dc_runner.app, urls)
            await scale.info(dc_url)
            await scale.creates(dc_url, small_url, urls[0])
            await scale.seed_clients(urls, arguments.clients)
            await scale.lookup(dc_runner.app, dc_url, arguments.clients)
            fleet_pids = [fleet.pid for fleet in fleets]
            rss = ", ".join(f"{rss_mb(pid):.0f}" for pid in fleet_pids)
            scale.record("RSS", f"dc process {rss_mb():.0f} MB; fleet processes {rss} MB")
            await scale.steady(urls, hosts, fleet_pids)
            return scale.results
    finally:
        for fleet in [*fleets, *small_fleets]:  # before the zones whose tokens they trust
            assert fleet.stdin is not None
            fleet.stdin.close()
            await fleet.wait()
        await dc_runner.cleanup()
        await small_runner.cleanup()


def report(arguments: argparse.Namespace, results: dict[str, str]) -> None:
    print(f"bench.scale: {arguments.children} huddles x {arguments.hosts} hosts, "
          f"{arguments.processes} fleet processes")  # fmt: skip
    print("| what | measured |")
    print("| --- | --- |")
    for what, value in results.items():
        print(f"| {what} | {value} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=200)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--steady", type=float, default=60.0)
    parser.add_argument("--ttl", type=float, default=300.0)
    arguments = parser.parse_args()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        results = runner.run(bench(arguments))
    report(arguments, results)


if __name__ == "__main__":
    main()
