"""Small trees of real zones for the router tests: start zones, add service accounts, zone-add."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Api, RunningZone
from zones.router.following.appkeys import POLLER
from zones.router.following.rounds import PollOutcome

SERVICE_USER = {"name": "svc-parent", "password": "svc-pw", "client": "ops", "roles": ["service"]}
# Polls run when a test asks; the timeout leaves room for a loaded machine (a poll that
# logs in again at a child that just restarted once took more than 1 s in the full suite).
QUIET_POLLING = {"interval": 3600.0, "timeout": 3.0, "failures_before_offline": 2}


@dataclass
class Tree:
    """Zones by name, an admin client of each, and the child ids each parent gave."""

    http: aiohttp.ClientSession
    zones: dict[str, RunningZone] = field(default_factory=dict)
    admins: dict[str, Api] = field(default_factory=dict)
    child_ids: dict[tuple[str, str], int] = field(default_factory=dict)

    async def start(self, starter: ZoneStarter, name: str, **sections: Any) -> RunningZone:
        sections.setdefault("poll", QUIET_POLLING)
        zone = await starter(name, **sections)
        self.zones[name] = zone
        self.admins[name] = await Api(self.http, zone.url).as_user()
        created = await self.admins[name].call("POST", "/users", json_body={"user": SERVICE_USER})
        assert created.status == 201, created
        return zone

    async def start_again(
        self, starter: ZoneStarter, name: str, port: int, **sections: Any
    ) -> RunningZone:
        """Start a stopped zone again from its directory and database, on its old port (with
        the same `sections` it was started with, when they matter: its trusted issuers...)."""
        sections.setdefault("poll", QUIET_POLLING)
        zone = await starter(name, zone={"listen": f"127.0.0.1:{port}"}, **sections)
        self.zones[name] = zone
        self.admins[name] = await Api(self.http, zone.url).as_user()
        return zone

    async def add_child(self, parent: str, child: str, **extra: Any) -> dict[str, Any]:
        body = {
            "api_url": self.zones[child].url,
            "username": SERVICE_USER["name"],
            "password": SERVICE_USER["password"],
            **extra,
        }
        added = await self.admins[parent].call("POST", "/zones", json_body={"zone": body})
        assert added.status == 201, added
        self.child_ids[(parent, child)] = added.body["zone"]["id"]
        return dict(added.body["zone"])

    async def poll(self, *parents: str) -> list[PollOutcome]:
        """One poll round at each parent, in the order given (leaves' parents first)."""
        outcomes: list[PollOutcome] = []
        for parent in parents:
            outcomes += await self.zones[parent].app[POLLER].run_once()
        return outcomes

    async def info(self, name: str) -> dict[str, Any]:
        answer = await self.admins[name].call("GET", "/zones/info")
        assert answer.status == 200, answer
        return dict(answer.body["zone"])

    async def child(self, parent: str, child: str) -> dict[str, Any]:
        child_id = self.child_ids[(parent, child)]
        answer = await self.admins[parent].call("GET", f"/zones/{child_id}/detail")
        assert answer.status == 200, answer
        return dict(answer.body["zone"])

    async def heartbeat(self, zone: str, host: str, **beat: Any) -> dict[str, Any]:
        answer = await self.admins[zone].call("PUT", f"/hosts/{host}", json_body={"host": beat})
        assert answer.status == 200, answer
        return dict(answer.body["host"])


async def trusting_chain(
    http: aiohttp.ClientSession,
    zones: ZoneStarter,
    host: str,
    inventory: dict[str, float],
    **sections: Any,
) -> Tree:
    """root > mid > leaf, the lower zones trusting the root's tokens; one host at the leaf;
    `sections` (`poll=...`) for every zone."""
    tree = Tree(http)
    root = await tree.start(zones, "root", **sections)
    trust = {"trusted_issuers": [root.url]}
    await tree.start(zones, "mid", auth=trust, **sections)
    await tree.start(zones, "leaf", auth=trust, **sections)
    await tree.heartbeat("leaf", host, inventory=inventory)
    await tree.add_child("mid", "leaf")
    await tree.add_child("root", "mid")
    await tree.poll("mid", "root")
    return tree
