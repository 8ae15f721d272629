"""Many real zones in one process, for benchmarks.

    python -m bench.fleet COUNT DIR PREFIX [ISSUER ...]


Each zone has its own SQLite database and keys under DIR, a service account
`bench-svc` (password `bench-pw`), and a static capability `slot` = its index;
with ISSUERs it also trusts those zones' tokens. The process prints one JSON line with the
zones' URLs once all of them serve, then runs until its standard input closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp
from aiohttp import web

from zones.node.app import create_app
from zones.node.cli import bind, event_loop_factory
from zones.node.config import Settings, validate_settings

ADMIN_PASSWORD = "bench-admin"
SERVICE_USER = {"name": "bench-svc", "password": "bench-pw", "client": "ops", "roles": ["service"]}
START_CONCURRENCY = 8


def fleet_settings(
    directory: Path, name: str, slot: str = "", issuers: tuple[str, ...] = ()
) -> Settings:
    directory.mkdir(parents=True, exist_ok=True)
    return validate_settings(
        {
            "zone": {
                "name": name,
                "listen": "127.0.0.1:0",
                "capabilities": {"slot": slot} if slot else {},
            },
            "auth": {"admin_password": ADMIN_PASSWORD, "trusted_issuers": issuers},
            # The benchmarks drive poll rounds themselves: no watches unless one asks.
            "poll": {"interval": 3600.0, "watch": False},
            "base_dir": directory,
        }
    )


def parent_settings(directory: Path, name: str) -> Settings:
    """A parent of a whole fleet: 200 children sharing two cores with it can take longer than
    the default 2 s to answer a round (their first logins above all); rounds are measured
    by the benchmarks, not raced."""
    settings = fleet_settings(directory, name)
    return settings.model_copy(update={"poll": settings.poll.model_copy(update={"timeout": 30.0})})


async def start(settings: Settings) -> tuple[web.AppRunner, str]:
    sock, settings = bind(settings)
    runner = web.AppRunner(create_app(settings), access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner, settings.url


async def add_service_user(http: aiohttp.ClientSession, url: str) -> None:
    login = {"username": "admin", "password": ADMIN_PASSWORD}
    async with http.post(f"{url}/auth/tokens", json=login) as answer:
        token = (await answer.json())["token"]
    headers = {"Authorization": f"Bearer {token}"}
    async with http.post(f"{url}/users", json={"user": SERVICE_USER}, headers=headers) as answer:
        if answer.status not in (201, 409):
            raise RuntimeError(f"{url}: cannot create the service user: {await answer.text()}")


async def register_child(
    http: aiohttp.ClientSession, parent_url: str, headers: dict[str, str], child_url: str
) -> None:
    """Zone-add: the child at `child_url` under the parent, through the fleet's service user."""
    zone = {
        "api_url": child_url,
        "username": SERVICE_USER["name"],
        "password": SERVICE_USER["password"],
    }
    async with http.post(f"{parent_url}/zones", json={"zone": zone}, headers=headers) as answer:
        answer.raise_for_status()


async def run_fleet(
    count: int, directory: Path, prefix: str, issuers: tuple[str, ...] = ()
) -> None:
    bound = asyncio.Semaphore(START_CONCURRENCY)
    async with aiohttp.ClientSession() as http:

        async def one(index: int) -> tuple[web.AppRunner, str]:
            async with bound:
                name = f"{prefix}-{index}"
                settings = fleet_settings(directory / name, name, name, issuers)
                runner, url = await start(settings)
                await add_service_user(http, url)
                return runner, url

        started = await asyncio.gather(*(one(index) for index in range(count)))
    print(json.dumps({"urls": [url for _, url in started]}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for runner, _ in started:
        await runner.cleanup()


def main() -> None:
    count, directory, prefix = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    issuers = tuple(sys.argv[4:])
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(run_fleet(count, directory, prefix, issuers))


if __name__ == "__main__":
    main()
