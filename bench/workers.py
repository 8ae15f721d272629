"""A zone on 1, 2 and 4 workers over PostgreSQL, against the same zone on SQLite.

    .venv/bin/python -m bench.workers [--creates 600] [--in-flight 32] [--workers 1,2,4]

Each run starts one zone as `zones serve` (its own process group; over
PostgreSQL a database of its own, made for the run and dropped after), with
32 hosts of ample room, and times creates at it (the zone holds them: one
hop): the latency at one in flight (p50 of 100), then creates per second with
`--in-flight` at once over as many connections, each for a client of
its own, `--creates` in all. Printed:
each figure, the throughput ratio of N workers to 1 over PostgreSQL, and the
latency ratio of PostgreSQL to SQLite at one worker. Needs the PostgreSQL
server of ZONES_TEST_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

PASSWORD = "bench-password-1"
# Creates spread over this many hosts: one host would make every create wait for the row
# lock of its allocation, held until the create's transaction commits.
HOSTS = 32
SERVER = os.environ.get(
    "ZONES_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@dataclass
class Figures:
    label: str
    p50_ms: float
    per_second: float


async def start_zone(
    directory: Path, database: str | None, workers: int
) -> tuple[asyncio.subprocess.Process, str]:
    lines = ["[zone]", 'name = "bench"', 'listen = "127.0.0.1:0"', f"workers = {workers}"]
    if database is not None:
        lines.append(f'database = "{database}"')
    lines += ["[auth]", f'admin_password = "{PASSWORD}"']
    config = directory / "node.toml"
    config.write_text("\n".join(lines) + "\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zones",
        "serve",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    if b"listening on" not in line:
        raise SystemExit(f"the zone did not start: {line!r}")
    return process, line.decode().rsplit(" ", 1)[-1].strip()


async def measure(url: str, creates: int, in_flight: int, label: str) -> Figures:
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.post(
            f"{url}/auth/tokens", json={"username": "admin", "password": PASSWORD}
        ) as r:
            token = (await r.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        host = {
            "host": {"capabilities": {"os": "linux"}, "inventory": {"ram_mb": 1e12}, "ttl": 3600}
        }
        for number in range(HOSTS):
            async with http.put(f"{url}/hosts/h{number}", json=host, headers=headers) as r:
                assert r.status == 200, await r.text()

        # One client per worker task: a client's creates take its index row's lock in turn
        # (the index stays exact), so one client's creates do not run side by side.
        tokens = [token]
        for number in range(1, in_flight):
            user = {"name": f"u{number}", "password": PASSWORD, "client": f"c{number}"}
            async with http.post(f"{url}/users", json={"user": user}, headers=headers) as r:
                assert r.status == 201, await r.text()
            login = {"username": f"u{number}", "password": PASSWORD}
            async with http.post(f"{url}/auth/tokens", json=login) as r:
                tokens.append((await r.json())["token"])

        async def create(token: str = token) -> float:
            body = {"instance": {"name": "b", "resources": {"ram_mb": 1}}}
            started = time.perf_counter()
            as_client = {"Authorization": f"Bearer {token}"}
            async with http.post(f"{url}/instances", json=body, headers=as_client) as r:
                assert r.status == 201, await r.text()
                await r.read()
            return time.perf_counter() - started

        for _ in range(20):  # warm up: connections, caches, statement caches
            await create()
        p50 = statistics.median([await create() for _ in range(100)]) * 1000
        remaining = creates

        async def worker(token: str) -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await create(token)

        started = time.perf_counter()
        await asyncio.gather(*(worker(token) for token in tokens))
        per_second = creates / (time.perf_counter() - started)
    return Figures(label, p50, per_second)


async def one_run(workers: int | None, creates: int, in_flight: int) -> Figures:
    """`workers` over PostgreSQL, or None for one worker on SQLite."""
    with tempfile.TemporaryDirectory() as directory:
        database = None
        name = f"zones_bench_{uuid.uuid4().hex[:10]}"
        admin = None
        if workers is not None:
            admin = await asyncpg.connect(SERVER.replace("postgresql+asyncpg", "postgresql"))
            await admin.execute(f'CREATE DATABASE "{name}"')
            database = SERVER.rsplit("/", 1)[0] + f"/{name}"
        process, url = await start_zone(Path(directory), database, workers or 1)
        try:
            label = "sqlite, 1 worker" if workers is None else f"postgresql, {workers} workers"
            return await measure(url, creates, in_flight, label)
        finally:
            process.terminate()
            await process.wait()
            if admin is not None:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--creates", type=int, default=600)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--workers", default="1,2,4")
    arguments = parser.parse_args()
    counts = [int(count) for count in arguments.workers.split(",")]
    results = [await one_run(None, arguments.creates, arguments.in_flight)]
    for count in counts:
        results.append(await one_run(count, arguments.creates, arguments.in_flight))
    print(f"{'zone':<24} {'create p50 ms':>14} {'creates/s':>10}")
    for figures in results:
        print(f"{figures.label:<24} {figures.p50_ms:>14.2f} {figures.per_second:>10.0f}")
    sqlite, one = results[0], results[1]
    ratio = one.p50_ms / sqlite.p50_ms
    print(f"postgresql / sqlite create p50 at 1 worker: {ratio:.2f} (target <= 1.5)")
    for figures in results[2:]:
        gain = figures.per_second / one.per_second
        print(f"{figures.label}: {gain:.2f}x the creates/s of 1 worker (target for 2: >= 1.6)")


if __name__ == "__main__":
    asyncio.run(main())
