"""Per-hop cost of routing through zones, against a bare aiohttp forwarding chain.

    .venv/bin/python -m bench.route [--requests 200]

A chain of four real zones (each its own process, SQLite, as `zones up`
starts them), with the hosts at the last one, holds the instances. GET
/instances/{id} and POST /instances are timed entering at each zone, so the
same request crosses 1 to 4 zones; the floor is a chain of four minimal
aiohttp forwarders (bench/floor_chain.py), one process each, timed the same
way in the same run. Writes are also timed against the durable floor: the
same chain committing one row per hop with stdlib sqlite3, the least a 201
that means "committed on every hop" can cost. Per-hop cost is the slope:
(latency entering at the top minus latency at the holder) / 3. Also: creates
per second at the top with 16 in flight, against both floors. And the client
lookup at the top zone, answered from its index, against `/healthz` (no auth,
no database) and `/zones/1` (an authenticated read of one row) on the same
zone; at the zone with the hosts, a heartbeat that changes nothing and a poll
answered 304, against `/healthz` there.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

DEPTH = 4


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [int(sock.getsockname()[1]) for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def chain_topology(ports: list[int]) -> str:
    zones = []
    for index, port in enumerate(ports):
        children = f'children = ["z{index + 2}"]' if index + 1 < len(ports) else ""
        hosts = (
            "  [[zone.hosts]]\n  count = 4\n  inventory = { ram_mb = 1000000000 }\n"
            if index + 1 == len(ports)
            else ""
        )
        zones.append(f'[[zone]]\nname = "z{index + 1}"\nport = {port}\n{children}\n{hosts}')
    return '[defaults]\npoll_interval = 1.0\nadmin_password = "bench"\n\n' + "\n".join(zones)


async def timed(action: Callable[[], Awaitable[object]], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1]


async def login(http: aiohttp.ClientSession, url: str) -> dict[str, str]:
    async with http.post(
        f"{url}/auth/tokens", json={"username": "admin", "password": "bench"}
    ) as answer:
        return {"Authorization": f"Bearer {(await answer.json())['token']}"}


async def measure(requests: int) -> None:
    state = Path(tempfile.mkdtemp(prefix="zones-bench-route-"))
    ports = free_ports(DEPTH)
    topology = state / "chain.toml"
    topology.write_text(chain_topology(ports))
    up = subprocess.run(
        [
            sys.executable,
            "-m",
            "zones",
            "up",
            str(topology),
            "--state-dir",
            str(state / "s"),
            "--detach",
        ],
        capture_output=True,
        text=True,
    )
    if up.returncode != 0:
        raise SystemExit(up.stderr)
    floor_ports = free_ports(DEPTH)
    durable_ports = free_ports(DEPTH)
    floors = start_floor(floor_ports) + start_floor(durable_ports, state / "floor")
    try:
        async with aiohttp.ClientSession() as http:
            await wait_for_floor(http, floor_ports)
            await wait_for_floor(http, durable_ports)
            urls = [f"http://127.0.0.1:{port}" for port in ports]
            top_headers = await login(http, urls[0])
            made = []
            for _ in range(20):
                body = {"instance": {"name": "b", "resources": {"ram_mb": 1}}}
                async with http.post(
                    f"{urls[0]}/instances", json=body, headers=top_headers
                ) as answer:
                    made.append((await answer.json())["instance"]["id"])
            rows = []
            for level, url in enumerate(urls):
                headers = await login(http, url) if level == DEPTH - 1 else top_headers
                floor = f"http://127.0.0.1:{floor_ports[level]}"
                durable = f"http://127.0.0.1:{durable_ports[level]}"
                crossed = DEPTH - level

                async def get_ours(url: str = url, headers: dict[str, str] = headers) -> None:
                    async with http.get(f"{url}/instances/{made[0]}", headers=headers) as answer:
                        assert answer.status == 200, await answer.text()
                        await answer.read()

                async def post_ours(url: str = url, headers: dict[str, str] = headers) -> None:
                    body = {"instance": {"name": "b", "resources": {"ram_mb": 1}}}
                    async with http.post(f"{url}/instances", json=body, headers=headers) as answer:
                        assert answer.status == 201, await answer.text()
                        await answer.read()

                async def get_floor(floor: str = floor) -> None:
                    async with http.get(f"{floor}/instances/{uuid.uuid4()}") as answer:
                        await answer.read()

                async def post_floor(floor: str = floor) -> None:
                    async with http.post(f"{floor}/instances", json={"instance": {}}) as answer:
                        await answer.read()

                async def post_durable(durable: str = durable) -> None:
                    async with http.post(f"{durable}/instances", json={"instance": {}}) as answer:
                        await answer.read()

                await timed(get_ours, 20)  # warm the pools and caches
                await timed(post_durable, 10)
                rows.append(
                    (
                        crossed,
                        await timed(get_ours, requests),
                        await timed(get_floor, requests),
                        await timed(post_ours, requests // 2),
                        await timed(post_floor, requests // 2),
                        await timed(post_durable, requests // 2),
                    )
                )
            throughput = Throughput(
                await creates_per_second(http, urls[0], top_headers),
                await creates_per_second(http, f"http://127.0.0.1:{floor_ports[0]}", {}),
                await creates_per_second(http, f"http://127.0.0.1:{durable_ports[0]}", {}),
            )
            lookups = await lookup_costs(http, urls[0], top_headers, requests)
            holder = await holder_costs(http, urls[-1], await login(http, urls[-1]), requests)
    finally:
        subprocess.run(
            [sys.executable, "-m", "zones", "down", "--state-dir", str(state / "s")],
            capture_output=True,
        )
        for process in floors:
            process.terminate()
            process.wait()
    report(rows, throughput, requests)
    report_lookups(lookups, requests)
    report_calls("at the zone with the hosts", holder, requests)


def start_floor(ports: list[int], durable: Path | None = None) -> list[subprocess.Popen[bytes]]:
    """A floor chain over `ports`, last link first; with `durable`, committing per hop."""
    if durable is not None:
        durable.mkdir(parents=True, exist_ok=True)
    links = []
    for index in reversed(range(len(ports))):
        nxt = [f"http://127.0.0.1:{ports[index + 1]}"] if index + 1 < len(ports) else []
        store = ["--durable", str(durable / f"link{index}.db")] if durable is not None else []
        links.append(
            subprocess.Popen(
                [sys.executable, "-m", "bench.floor_chain", str(ports[index]), *nxt, *store]
            )
        )
    return links


@dataclass(frozen=True)
class Throughput:
    """Creates per second at the top of each chain, 16 in flight."""

    zones: float
    floor: float
    durable_floor: float


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


async def call_costs(
    http: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    calls: dict[str, Call],
    requests: int,
) -> dict[str, list[float]]:
    """p50-ready samples of each call, interleaved in rounds so drift hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(5):
        for name, call in calls.items():

            async def once(call: Call = call) -> None:
                sent = {**headers, **call.headers}
                async with http.request(
                    call.method, f"{url}{call.path}", json=call.body, headers=sent
                ) as answer:
                    assert answer.status in (200, 304), await answer.text()
                    await answer.read()

            await timed(once, 10)  # warm
            samples[name] += await timed(once, requests // 5)
    return samples


async def lookup_costs(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], requests: int
) -> dict[str, list[float]]:
    """The lookup at the top zone and its two yardsticks."""
    async with http.get(f"{url}/users", headers=headers) as answer:
        client = (await answer.json())["users"][0]["client"]
    calls = {
        "GET /auth/lookup": Call("GET", f"/auth/lookup?client={client}"),
        "GET /healthz": Call("GET", "/healthz"),
        "GET /zones/1 (one row)": Call("GET", "/zones/1"),
    }
    return await call_costs(http, url, headers, calls, requests)


async def holder_costs(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], requests: int
) -> dict[str, list[float]]:
    """At the zone with the hosts: a heartbeat that changes nothing, and a poll of an unchanged
    zone (`/zones/info` answered 304), against `/healthz` on the same zone."""
    beat = {"host": {"capabilities": {"bench": True}, "inventory": {"ram_mb": 1}, "ttl": 600}}
    async with http.put(f"{url}/hosts/bench-beat", json=beat, headers=headers) as answer:
        assert answer.status == 200, await answer.text()
    async with http.get(f"{url}/zones/info", headers=headers) as answer:
        etag = answer.headers["ETag"]
    calls = {
        "PUT /hosts/{name} (unchanged)": Call("PUT", "/hosts/bench-beat", beat),
        "GET /zones/info (304)": Call("GET", "/zones/info", headers={"If-None-Match": etag}),
        "GET /healthz": Call("GET", "/healthz"),
    }
    return await call_costs(http, url, headers, calls, requests)


def report_calls(title: str, samples: dict[str, list[float]], requests: int) -> None:
    print(f"{title}, {requests} calls each, ms")
    print("| call | p50 | p99 | p50 / healthz p50 |")
    print("| --- | ---: | ---: | ---: |")
    healthz = p(samples["GET /healthz"], 50)
    for name, times in samples.items():
        print(
            f"| {name} | {p(times, 50):.3f} | {p(times, 99):.3f} | {p(times, 50) / healthz:.2f} |"
        )


def report_lookups(samples: dict[str, list[float]], requests: int) -> None:
    report_calls("at the top zone", samples, requests)
    lookup = p(samples["GET /auth/lookup"], 50)
    print(
        f"lookup p50 / healthz p50: {lookup / p(samples['GET /healthz'], 50):.2f}; "
        f"lookup p50 / one-row read p50: {lookup / p(samples['GET /zones/1 (one row)'], 50):.2f}"
    )


async def wait_for_floor(http: aiohttp.ClientSession, ports: list[int]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            async with http.get(f"http://127.0.0.1:{ports[0]}/instances/x") as answer:
                if answer.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("floor chain did not start")
        await asyncio.sleep(0.1)


async def creates_per_second(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str]
) -> float:
    total, in_flight = 320, 16
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            body = {"instance": {"name": "t", "resources": {"ram_mb": 1}}}
            async with http.post(f"{url}/instances", json=body, headers=headers) as answer:
                assert answer.status < 300, await answer.text()  # the floors answer 200
                await answer.read()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return total / (time.perf_counter() - started)


Row = tuple[int, list[float], list[float], list[float], list[float], list[float]]


def report(rows: list[Row], throughput: Throughput, requests: int) -> None:
    print(f"zones crossed by one request; {requests} GETs and {requests // 2} POSTs per row, ms")
    print(
        "| zones crossed | GET p50 | GET p99 | floor GET p50 "
        "| POST p50 | POST p99 | floor POST p50 | durable floor POST p50 |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for crossed, get, fget, post, fpost, dpost in rows:
        print(
            f"| {crossed} | {p(get, 50):.2f} | {p(get, 99):.2f} | {p(fget, 50):.2f} "
            f"| {p(post, 50):.2f} | {p(post, 99):.2f} | {p(fpost, 50):.2f} "
            f"| {p(dpost, 50):.2f} |"
        )
    by_depth = {crossed: [p(samples, 50) for samples in columns] for crossed, *columns in rows}
    hops = DEPTH - 1
    hop_get, floor_get, hop_post, floor_post, durable_post = (
        (by_depth[DEPTH][column] - by_depth[1][column]) / hops for column in range(5)
    )
    print(
        f"per-hop cost, GET: zones {hop_get:.2f} ms, floor {floor_get:.2f} ms, "
        f"ratio {hop_get / floor_get:.2f}"
    )
    print(
        f"per-hop cost, POST: zones {hop_post:.2f} ms, floor {floor_post:.2f} ms, "
        f"durable floor {durable_post:.2f} ms; ratio {hop_post / floor_post:.2f} to the floor, "
        f"{hop_post / durable_post:.2f} to the durable floor"
    )
    print(
        f"creates at the top of the chain, 16 in flight: zones {throughput.zones:.0f}/s, "
        f"floor {throughput.floor:.0f}/s, durable floor {throughput.durable_floor:.0f}/s; "
        f"zones / durable floor {throughput.zones / throughput.durable_floor:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(measure(arguments.requests))


if __name__ == "__main__":
    main()
