"""One parent polling 200 children: a full poll round, changed and unchanged, against a floor.

    .venv/bin/python -m bench.poll [--children 200] [--processes 2] [--rounds 5]

The children are real zones, many to a process (`bench.fleet`). The parent
runs in this process, so its CPU time is this process's. The floor is a
minimal aiohttp fan-out to the same `/zones/info` endpoints with the same
concurrency bound, measured in the same run: plain GETs for "changed", GETs
with `If-None-Match` for "unchanged". Ratios are poller / floor; absolute
times drift on shared machines, ratios much less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.fleet import SERVICE_USER, parent_settings, register_child, start
from zones.node.cli import event_loop_factory
from zones.router.following.appkeys import POLLER
from zones.router.following.poller import POLL_CONCURRENCY


@dataclass
class Timing:
    wall_ms: float
    cpu_ms: float


async def timed(action: Callable[[], Awaitable[object]]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    await action()
    return Timing((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)


async def spawn_fleets(
    count: int, processes: int, directory: Path, *issuer: str
) -> tuple[list[str], list[asyncio.subprocess.Process]]:
    share, extra = divmod(count, processes)
    fleets = []
    for index in range(processes):
        size = share + (1 if index < extra else 0)
        fleets.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.fleet",
                str(size),
                str(directory / f"fleet{index}"),
                f"c{index}",
                *issuer,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        )
    urls: list[str] = []
    for fleet in fleets:
        assert fleet.stdout is not None
        line = await asyncio.wait_for(fleet.stdout.readline(), 300)
        urls += json.loads(line)["urls"]
    return urls, fleets


async def login(http: aiohttp.ClientSession, url: str, username: str, password: str) -> str:
    async with http.post(
        f"{url}/auth/tokens", json={"username": username, "password": password}
    ) as answer:
        answer.raise_for_status()
        return str((await answer.json())["token"])


async def gather_bounded(actions: list[Callable[[], Awaitable[object]]]) -> None:
    bound = asyncio.Semaphore(POLL_CONCURRENCY)

    async def run(action: Callable[[], Awaitable[object]]) -> None:
        async with bound:
            await action()

    await asyncio.gather(*(run(action) for action in actions))


async def bench(children: int, processes: int, rounds: int) -> None:
    directory = Path(tempfile.mkdtemp(prefix="zones-bench-poll-"))
    print(f"starting {children} child zones in {processes} processes ...", file=sys.stderr)
    urls, fleets = await spawn_fleets(children, processes, directory)
    parent_runner, parent_url = await start(parent_settings(directory / "parent", "parent"))
    app = parent_runner.app
    try:
        async with aiohttp.ClientSession() as http:
            admin = await login(http, parent_url, "admin", "bench-admin")
            headers = {"Authorization": f"Bearer {admin}"}

            await gather_bounded(
                [lambda url=url: register_child(http, parent_url, headers, url) for url in urls]
            )
            child_tokens = {
                url: await login(http, url, SERVICE_USER["name"], SERVICE_USER["password"])
                for url in urls
            }
            admin_tokens = {url: await login(http, url, "admin", "bench-admin") for url in urls}
            poller = app[POLLER]
            await poller.run_once()  # warm-up: the parent logs in to every child once

            beat = 0

            async def change_every_child() -> None:
                nonlocal beat
                beat += 1

                async def heartbeat(url: str) -> None:
                    body = {"host": {"inventory": {"ram_mb": 1024 + beat}, "ttl": 3600}}
                    auth = {"Authorization": f"Bearer {admin_tokens[url]}"}
                    async with http.put(f"{url}/hosts/h1", json=body, headers=auth) as answer:
                        answer.raise_for_status()

                await gather_bounded([lambda url=url: heartbeat(url) for url in urls])

            async def poll_round(expect_changed: bool) -> None:
                outcomes = await poller.run_once()
                failed = [outcome.error for outcome in outcomes if not outcome.ok]
                changed = sum(outcome.info is not None for outcome in outcomes)
                if failed or changed != (len(urls) if expect_changed else 0):
                    raise RuntimeError(
                        f"unexpected round: {changed} changed, failures {failed[:3]}"
                    )

            etags: dict[str, str] = {}

            async def floor_round(conditional: bool) -> None:
                async with aiohttp.ClientSession() as floor:

                    async def fetch(url: str) -> None:
                        sent = {"Authorization": f"Bearer {child_tokens[url]}"}
                        if conditional:
                            sent["If-None-Match"] = etags[url]
                        async with floor.get(f"{url}/zones/info", headers=sent) as answer:
                            if answer.status == 200:
                                etags[url] = f'"{(await answer.json())["zone"]["generation"]}"'
                            elif answer.status != 304:
                                raise RuntimeError(f"floor: {url} answered {answer.status}")

                    await gather_bounded([lambda url=url: fetch(url) for url in urls])

            results: dict[str, list[Timing]] = {
                key: []
                for key in ("poll changed", "floor changed", "poll unchanged", "floor unchanged")
            }
            for _ in range(rounds):
                await change_every_child()
                results["poll changed"].append(await timed(lambda: poll_round(True)))
                results["poll unchanged"].append(await timed(lambda: poll_round(False)))
                await change_every_child()
                results["floor changed"].append(await timed(lambda: floor_round(False)))
                results["floor unchanged"].append(await timed(lambda: floor_round(True)))
    finally:
        await parent_runner.cleanup()
        for fleet in fleets:
            assert fleet.stdin is not None
            fleet.stdin.close()
            await fleet.wait()
    report(children, rounds, results)


def median(timings: list[Timing], field: str) -> float:
    return statistics.median(getattr(timing, field) for timing in timings)


def report(children: int, rounds: int, results: dict[str, list[Timing]]) -> None:
    print(f"one full poll round of {children} children, median of {rounds} rounds")
    print(
        "| round | poller wall ms | floor wall ms | wall ratio "
        "| poller CPU ms | floor CPU ms | CPU ratio |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind in ("changed", "unchanged"):
        poll, floor = results[f"poll {kind}"], results[f"floor {kind}"]
        walls = median(poll, "wall_ms"), median(floor, "wall_ms")
        cpus = median(poll, "cpu_ms"), median(floor, "cpu_ms")
        print(
            f"| {kind} | {walls[0]:.0f} | {walls[1]:.0f} | {walls[0] / walls[1]:.2f} "
            f"| {cpus[0]:.0f} | {cpus[1]:.0f} | {cpus[0] / cpus[1]:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(bench(arguments.children, arguments.processes, arguments.rounds))


if __name__ == "__main__":
    main()
