"""A list at a root over 50 children holding many instances, against a bare fan-out and merge.

    .venv/bin/python -m bench.list [--children 50] [--instances 10000] [--pages 30]

The root runs in this process; the children are real zones, 25 to a process
(`bench.fleet`), each with one big host and a static capability `slot`. The
instances are created through the root (each asks for one child's slot, so
they spread evenly and every child holds some). Then `GET /instances?limit=100`
is timed at the root, first pages and pages deep behind a marker. The floor is
this process asking the same 50 children for `limit=100` directly (the root's
token is trusted there) and merging the pages itself: the children's work
without the root's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.fleet import ADMIN_PASSWORD, fleet_settings, register_child, start
from bench.poll import gather_bounded, login, spawn_fleets
from zones.node.cli import event_loop_factory
from zones.router.following.appkeys import POLLER

LIMIT = 100


def quantile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1]


async def bench(children: int, count: int, pages: int) -> None:
    directory = Path(tempfile.mkdtemp(prefix="zones-bench-list-"))
    root_runner, root_url = await start(fleet_settings(directory / "root", "root"))
    urls, fleets = await spawn_fleets(children, 2, directory, root_url)
    try:
        async with aiohttp.ClientSession() as http:
            admin = {
                "Authorization": f"Bearer {await login(http, root_url, 'admin', ADMIN_PASSWORD)}"
            }

            async def prepare(url: str) -> None:
                child_admin = await login(http, url, "admin", ADMIN_PASSWORD)
                beat = {"host": {"inventory": {"ram_mb": 1e12}, "ttl": 3600}}
                headers = {"Authorization": f"Bearer {child_admin}"}
                async with http.put(f"{url}/hosts/big", json=beat, headers=headers) as answer:
                    answer.raise_for_status()
                await register_child(http, root_url, admin, url)

            await gather_bounded([lambda url=url: prepare(url) for url in urls])
            await root_runner.app[POLLER].run_once()
            slots = [f"c{i % 2}-{i // 2}" for i in range(children)]  # fleet names, as slots
            started = time.perf_counter()
            made = iter(range(count))

            async def creator() -> None:
                for number in made:
                    body = {
                        "instance": {
                            "name": f"i{number}",
                            "requirements": {"slot": slots[number % children]},
                            "resources": {"ram_mb": 1},
                        }
                    }
                    async with http.post(
                        f"{root_url}/instances", json=body, headers=admin
                    ) as answer:
                        if answer.status != 201:
                            raise RuntimeError(await answer.text())

            await asyncio.gather(*(creator() for _ in range(16)))
            create_seconds = time.perf_counter() - started

            ours_first, ours_deep, floor = [], [], []
            marker = None
            for _ in range(pages):
                t0 = time.perf_counter()
                async with http.get(f"{root_url}/instances?limit={LIMIT}", headers=admin) as answer:
                    assert answer.status == 200
                    await answer.json()
                ours_first.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                query = f"limit={LIMIT}" + (f"&marker={marker}" if marker else "")
                async with http.get(f"{root_url}/instances?{query}", headers=admin) as answer:
                    page = await answer.json()
                ours_deep.append((time.perf_counter() - t0) * 1000)
                marker = page["next_marker"]
                t0 = time.perf_counter()
                bodies = await asyncio.gather(*(fetch(http, url, admin) for url in urls))
                merged = sorted(
                    (item for body in bodies for item in body["instances"]),
                    key=lambda i: (i["created_at"], i["id"]),
                )[:LIMIT]
                assert len(merged) == LIMIT
                floor.append((time.perf_counter() - t0) * 1000)
    finally:
        await root_runner.cleanup()
        for fleet in fleets:
            assert fleet.stdin is not None
            fleet.stdin.close()
            await fleet.wait()
    print(f"{count} instances over {children} children, created through the root")
    print(f"in {create_seconds:.0f} s ({count / create_seconds:.0f} per second, 16 in flight)")
    print(f"GET /instances?limit={LIMIT} at the root, {pages} of each, ms")
    print("| what | p50 | p99 |")
    print("| --- | ---: | ---: |")
    for label, samples in (
        ("root, first page", ours_first),
        ("root, page after a marker", ours_deep),
        ("floor: fan-out and merge", floor),
    ):
        print(f"| {label} | {quantile(samples, 50):.1f} | {quantile(samples, 99):.1f} |")
    print(
        f"ratio root first page / floor (p50): {quantile(ours_first, 50) / quantile(floor, 50):.2f}"
    )


async def fetch(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
    async with http.get(
        f"{url}/instances?limit={LIMIT}&all_clients=false", headers=headers
    ) as answer:
        return await answer.json()  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=50)
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=30)
    arguments = parser.parse_args()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(bench(arguments.children, arguments.instances, arguments.pages))


if __name__ == "__main__":
    main()
