"""What `zones up` does through the public API, as an operator would with curl.

Every step is safe to repeat (a second `zones up` on the same state dir finds
users and registrations already there and leaves them): service accounts in
each child for each parent, a host account where hosts report, the
topology's users at every root, then `POST /zones` for every parent's
children. `converge` then watches until every root sees its whole subtree.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from zones.node.launch.topology import Topology

ADMIN = "admin"
HOST_AGENT_USER = "host-agent"


def service_user(parent: str) -> str:
    return f"svc-{parent}"


class DeployError(Exception):
    """A step of bringing a deployment up failed; the message says which and why."""


@dataclass
class Admins:
    """An admin token at every zone, and the calls `zones up` makes with them."""

    http: aiohttp.ClientSession
    urls: dict[str, str]
    tokens: dict[str, str]

    @classmethod
    async def log_in(
        cls, http: aiohttp.ClientSession, urls: dict[str, str], password: str
    ) -> Admins:
        async def one(name: str) -> tuple[str, str]:
            body = await _call(
                http,
                "POST",
                f"{urls[name]}/auth/tokens",
                {"username": ADMIN, "password": password},
                expect=(201,),
            )
            return name, str(body["token"])

        pairs = await asyncio.gather(*(one(name) for name in urls))
        return cls(http, urls, dict(pairs))

    async def call(
        self, zone: str, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[zone]}"}
        return await _call(self.http, method, f"{self.urls[zone]}{path}", body, expect, headers)

    async def ensure_user(
        self, zone: str, name: str, password: str, client: str, roles: list[str]
    ) -> None:
        user = {"name": name, "password": password, "client": client, "roles": roles}
        await self.call(zone, "POST", "/users", {"user": user}, expect=(201, 409))


async def _call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    body: Any,
    expect: tuple[int, ...],
    headers: dict[str, str] | None = None,
) -> Any:
    try:
        async with http.request(method, url, json=body, headers=headers) as answer:
            text = await answer.text()
            if answer.status not in expect:
                raise DeployError(f"{method} {url} answered {answer.status}: {text[:300]}")
            return await answer.json(content_type=None) if text else None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeployError(f"{method} {url} failed: {exc}") from exc


async def create_accounts(admins: Admins, topology: Topology, secrets: dict[str, Any]) -> None:
    steps = []
    for parent, child in topology.edges():
        password = secrets["service"][f"{parent}>{child}"]
        steps.append(
            admins.ensure_user(child, service_user(parent), password, "zones", ["service"])
        )
    for zone in topology.zones.values():
        if zone.hosts:
            password = secrets["host_agent"]
            steps.append(
                admins.ensure_user(zone.name, HOST_AGENT_USER, password, "zones", ["host"])
            )
    for root in topology.roots:
        for user in topology.users:
            steps.append(
                admins.ensure_user(root, user.name, user.password, user.client, list(user.roles))
            )
    await asyncio.gather(*steps)


async def register_children(admins: Admins, topology: Topology, secrets: dict[str, Any]) -> None:
    async def register(parent: str) -> None:
        listed = await admins.call(parent, "GET", "/zones")
        known = {zone["api_url"] for zone in listed["zones"]}
        for child in topology.zones[parent].children:
            url = topology.zones[child].url
            if url in known:
                continue
            zone = {
                "api_url": url,
                "username": service_user(parent),
                "password": secrets["service"][f"{parent}>{child}"],
                "name": child,
            }
            await admins.call(parent, "POST", "/zones", {"zone": zone}, expect=(201,))

    await asyncio.gather(
        *(register(zone.name) for zone in topology.zones.values() if zone.children)
    )


@dataclass(frozen=True)
class Progress:
    links_online: int
    links: int
    hosts_seen: dict[str, tuple[int, int]]  # root -> (seen, expected)

    @property
    def converged(self) -> bool:
        return self.links_online == self.links and all(
            seen == expected for seen, expected in self.hosts_seen.values()
        )

    def describe(self) -> str:
        hosts = ", ".join(f"{root} {seen}/{want}" for root, (seen, want) in self.hosts_seen.items())
        return f"links online {self.links_online}/{self.links}; hosts seen at roots: {hosts}"


def expected_hosts(topology: Topology, root: str) -> int:
    return sum(len(topology.zones[name].hosts) for name in topology.subtree(root))


async def progress(admins: Admins, topology: Topology) -> Progress:
    parents = [zone.name for zone in topology.zones.values() if zone.children]
    listed = await asyncio.gather(*(admins.call(parent, "GET", "/zones") for parent in parents))
    online = sum(1 for answer in listed for zone in answer["zones"] if zone["state"] == "online")
    infos = await asyncio.gather(
        *(admins.call(root, "GET", "/zones/info") for root in topology.roots)
    )
    hosts_seen = {
        root: (info["zone"]["hosts"], expected_hosts(topology, root))
        for root, info in zip(topology.roots, infos, strict=True)
    }
    return Progress(online, len(topology.edges()), hosts_seen)


async def converge(
    admins: Admins, topology: Topology, timeout: float, report: Callable[[str], None]
) -> Progress:
    """Wait until every link is online and every root counts every host below it."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        state = await progress(admins, topology)
        if state.describe() != last:
            last = state.describe()
            report(f"converging: {last}")
        if state.converged:
            return state
        if time.monotonic() > deadline:
            raise DeployError(f"not converged within {timeout:.0f} s: {last}")
        await asyncio.sleep(0.25)


async def zone_rows(admins: Admins, topology: Topology) -> list[dict[str, Any]]:
    """One row per zone for the table: name, url, state, children, hosts below it."""
    infos = await asyncio.gather(
        *(admins.call(name, "GET", "/zones/info") for name in topology.zones)
    )
    states: dict[str, list[str]] = {name: [] for name in topology.zones}
    for info in infos:
        for child in info["zone"]["children"]:
            if child["name"] in states:
                states[child["name"]].append(child["state"])
    rows = []
    for (name, zone), info in zip(topology.zones.items(), infos, strict=True):
        seen = set(states[name]) or {"online (root)"}
        rows.append(
            {
                "name": name,
                "url": zone.url,
                "state": "/".join(sorted(seen)),
                "children": ", ".join(zone.children) or "-",
                "hosts": info["zone"]["hosts"],
            }
        )
    return rows
