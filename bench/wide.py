"""A create at a zone with 200 children, against the same create at a zone with 10.

    .venv/bin/python -m bench.wide [--children 200] [--narrow 10] [--creates 200]

Two parents run in this process: `wide` over all the children and `narrow`
over the first few of them. The children are real zones, 100 to a process
(`bench.fleet`), each with one big host and a static capability `slot`; they
trust both parents' tokens. Each parent is polled once, so it knows its
children's aggregates. Then creates asking for one of the narrow parent's
slots are timed at both parents, interleaved in rounds (so drift hits both
alike): the same placement, made below the same children, with 200 or 10
candidates to weigh. What the wide parent pays for its width is the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.fleet import ADMIN_PASSWORD, parent_settings, register_child, start
from bench.poll import gather_bounded, login, spawn_fleets
from zones.node.cli import event_loop_factory
from zones.router.following.appkeys import POLLER

ROUNDS = 5


async def bench(children: int, narrow: int, creates: int) -> None:
    directory = Path(tempfile.mkdtemp(prefix="zones-bench-wide-"))
    wide_runner, wide_url = await start(parent_settings(directory / "wide", "wide"))
    narrow_runner, narrow_url = await start(parent_settings(directory / "narrow", "narrow"))
    urls, fleets = await spawn_fleets(children, 2, directory, wide_url, narrow_url)
    samples: dict[str, list[float]] = {"wide": [], "narrow": []}
    try:
        async with aiohttp.ClientSession() as http:
            admins = {
                name: {"Authorization": f"Bearer {await login(http, url, 'admin', ADMIN_PASSWORD)}"}
                for name, url in (("wide", wide_url), ("narrow", narrow_url))
            }

            async def register(parent: str, parent_url: str, url: str) -> None:
                await register_child(http, parent_url, admins[parent], url)

            async def prepare(url: str) -> None:
                child_admin = await login(http, url, "admin", ADMIN_PASSWORD)
                beat = {"host": {"inventory": {"ram_mb": 1e12}, "ttl": 3600}}
                headers = {"Authorization": f"Bearer {child_admin}"}
                async with http.put(f"{url}/hosts/big", json=beat, headers=headers) as answer:
                    answer.raise_for_status()
                await register("wide", wide_url, url)

            await gather_bounded([lambda url=url: prepare(url) for url in urls])
            for url in urls[:narrow]:
                await register("narrow", narrow_url, url)
            for runner in (wide_runner, narrow_runner):
                outcomes = await runner.app[POLLER].run_once()
                if not all(outcome.ok for outcome in outcomes):
                    raise RuntimeError("a child did not answer its first poll")
            slots = [f"c0-{i}" for i in range(narrow)]  # the first fleet's names, as slots
            number = 0

            async def create(parent_url: str, headers: dict[str, str]) -> float:
                nonlocal number
                number += 1
                body = {
                    "instance": {
                        "name": f"i{number}",
                        "requirements": {"slot": slots[number % narrow]},
                        "resources": {"ram_mb": 1},
                    }
                }
                started = time.perf_counter()
                async with http.post(f"{parent_url}/instances", json=body, headers=headers) as a:
                    if a.status != 201 or (await a.json())["instance"]["status"] != "ACTIVE":
                        raise RuntimeError(await a.text())
                return (time.perf_counter() - started) * 1000

            for parent, url in (("wide", wide_url), ("narrow", narrow_url)):
                for _ in range(10):  # warm the pools and tokens
                    await create(url, admins[parent])
            for _ in range(ROUNDS):
                for parent, url in (("wide", wide_url), ("narrow", narrow_url)):
                    samples[parent] += [
                        await create(url, admins[parent]) for _ in range(creates // ROUNDS)
                    ]
    finally:
        await wide_runner.cleanup()
        await narrow_runner.cleanup()
        for fleet in fleets:
            assert fleet.stdin is not None
            fleet.stdin.close()
            await fleet.wait()
    report(children, narrow, samples)


def report(children: int, narrow: int, samples: dict[str, list[float]]) -> None:
    print(f"POST /instances, one at a time, {len(samples['wide'])} at each parent, ms")
    print("| parent | children | p50 | p90 |")
    print("| --- | ---: | ---: | ---: |")
    for parent, count in (("wide", children), ("narrow", narrow)):
        cuts = statistics.quantiles(samples[parent], n=10)
        print(f"| {parent} | {count} | {statistics.median(samples[parent]):.2f} | {cuts[8]:.2f} |")
    ratio = statistics.median(samples["wide"]) / statistics.median(samples["narrow"])
    print(f"create p50 at {children} children / at {narrow} children: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=200)
    parser.add_argument("--narrow", type=int, default=10)
    parser.add_argument("--creates", type=int, default=200)
    arguments = parser.parse_args()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(bench(arguments.children, arguments.narrow, arguments.creates))


if __name__ == "__main__":
    main()
