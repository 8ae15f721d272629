"""The deployment's zones driven through their public API, as an operator would with curl.

`Admins` logs in to every zone of a topology as its admin (the zones `zones
up` starts with the deployment's admin password, external zones with their
own) and makes the calls; what to change is decided in
zones.node.launch.reconcile. `converge` then watches until every link is
online and every root sees every host the file simulates below it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from zones.node.launch.checks import TopologyError
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
    async def log_in(cls, http: aiohttp.ClientSession, topology: Topology, password: str) -> Admins:
        """Log in to every zone of `topology`: those it starts with `password`."""
        logins = admin_logins(topology, password)
        urls = {name: zone.url for name, zone in topology.zones.items()}

        async def one(name: str) -> tuple[str, str]:
            username, secret = logins[name]
            body = {"username": username, "password": secret}
            answer = await _call(http, "POST", f"{urls[name]}/auth/tokens", body, expect=(201,))
            return name, str(answer["token"])

        pairs = await asyncio.gather(*(one(name) for name in urls))
        return cls(http, urls, dict(pairs))

    async def logs_in(self, zone: str, username: str, password: str) -> bool:
        """Whether `username` logs in at `zone` with `password`."""
        body = {"username": username, "password": password}
        url = f"{self.urls[zone]}/auth/tokens"
        answer = await _call(self.http, "POST", url, body, expect=(201, 401))
        return "token" in answer

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


def admin_logins(topology: Topology, password: str) -> dict[str, tuple[str, str]]:
    """How to log in to each zone as its admin: the zones the file starts as `admin` with
    `password`; an external zone as its `admin_username` with its `admin_password` (from its
    entry, else [defaults])."""
    logins = {}
    for zone in topology.zones.values():
        if not zone.external:
            logins[zone.name] = (ADMIN, password)
            continue
        secret = zone.admin_password or topology.admin_password
        if secret is None:
            raise TopologyError(
                f"zone {zone.name!r}: an external zone needs admin_password, in its entry or "
                "in [defaults]"
            )
        logins[zone.name] = (zone.admin_username or topology.admin_username, secret)
    return logins


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


@dataclass(frozen=True)
class Progress:
    not_online: list[str]  # "parent > child: why", for each enabled link of the file
    links: int
    hosts_seen: dict[str, tuple[int, int]]  # root -> (seen, expected)

    @property
    def converged(self) -> bool:
        # At least: a root also counts the hosts of external zones, which the file does not.
        return not self.not_online and all(
            seen >= expected for seen, expected in self.hosts_seen.values()
        )

    def describe(self) -> str:
        hosts = ", ".join(f"{root} {seen}/{want}" for root, (seen, want) in self.hosts_seen.items())
        online = self.links - len(self.not_online)
        return f"links online {online}/{self.links}; hosts seen at roots: {hosts}"


def expected_hosts(topology: Topology, root: str) -> int:
    return sum(len(topology.zones[name].hosts) for name in topology.subtree(root))


async def links_not_online(admins: Admins, topology: Topology) -> tuple[list[str], int]:
    """The file's enabled links that their parent does not see online (each with why), and
    how many enabled links there are."""
    parents = [zone for zone in topology.zones.values() if zone.children]
    listed = await asyncio.gather(*(admins.call(zone.name, "GET", "/zones") for zone in parents))
    lines, links = [], 0
    for parent, answer in zip(parents, listed, strict=True):
        by_url = {record["api_url"]: record for record in answer["zones"]}
        for child in parent.children:
            if not parent.link(child).enabled:
                continue
            links += 1
            record = by_url.get(topology.zones[child].url, {})
            if record.get("state") != "online":
                why = record.get("last_error") or record.get("state", "not registered")
                lines.append(f"{parent.name} > {child}: {why}")
    return lines, links


async def progress(admins: Admins, topology: Topology) -> Progress:
    not_online, links = await links_not_online(admins, topology)
    infos = await asyncio.gather(
        *(admins.call(root, "GET", "/zones/info") for root in topology.roots)
    )
    hosts_seen = {
        root: (info["zone"]["hosts"], expected_hosts(topology, root))
        for root, info in zip(topology.roots, infos, strict=True)
    }
    return Progress(not_online, links, hosts_seen)


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
            links = "".join(f"\n  {line}" for line in state.not_online)
            raise DeployError(f"not converged within {timeout:.0f} s: {last}{links}")
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
        seen = set(states[name]) or {"online"}  # a root: it answered
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
