"""`zones host-agent --spec FILE`: heartbeats for hosts, simulated or real.

One process keeps any number of hosts alive, at any number of zones: every
`ttl / 3` seconds it sends each host's `PUT /hosts/{name}` to its zone. A real
host runs the same command for itself. The spec (JSON):

    {"ttl": 15, "zones": [{"url": ..., "username": ..., "password": ...,
      "hosts": [{"name": ..., "capabilities": {...}, "inventory": {...},
                 "reserved": [...]}]}]}

`reserved` (optional) names the capability keys a host keeps itself for.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path
from typing import Any

import aiohttp

log = logging.getLogger("zones.host_agent")


class ZoneHeartbeats:
    """The hosts of one zone, and the token to report them with."""

    def __init__(self, http: aiohttp.ClientSession, spec: dict[str, Any], ttl: float) -> None:
        self._http = http
        self._spec = spec
        self._ttl = ttl
        self._token: str | None = None

    async def beat_all(self) -> None:
        try:
            await asyncio.gather(*(self._beat(host) for host in self._spec["hosts"]))
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("heartbeats to %s failed: %s", self._spec["url"], exc)

    async def _beat(self, host: dict[str, Any]) -> None:
        body = {
            "host": {
                "capabilities": host.get("capabilities", {}),
                "inventory": host.get("inventory", {}),
                "reserved": host.get("reserved", []),
                "ttl": self._ttl,
            }
        }
        for _ in range(2):
            token = self._token or await self._login()
            url = f"{self._spec['url']}/hosts/{host['name']}"
            headers = {"Authorization": f"Bearer {token}"}
            async with self._http.put(url, json=body, headers=headers) as answer:
                if answer.status != 401:
                    if answer.status >= 400:
                        log.warning("%s refused %s: %s", url, answer.status, await answer.text())
                    return
            self._token = None  # expired or refused: log in again, once

    async def _login(self) -> str:
        credentials = {"username": self._spec["username"], "password": self._spec["password"]}
        async with self._http.post(f"{self._spec['url']}/auth/tokens", json=credentials) as answer:
            answer.raise_for_status()
            self._token = str((await answer.json())["token"])
        return self._token


async def run_agent(spec_path: Path) -> None:
    spec = json.loads(spec_path.read_text())
    ttl = float(spec.get("ttl", 15.0))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    timeout = aiohttp.ClientTimeout(total=max(1.0, ttl / 3))
    async with aiohttp.ClientSession(timeout=timeout) as http:
        zones = [ZoneHeartbeats(http, zone, ttl) for zone in spec["zones"]]
        print(f"zones host-agent: {sum(len(z['hosts']) for z in spec['zones'])} hosts", flush=True)
        while not stop.is_set():
            await asyncio.gather(*(zone.beat_all() for zone in zones))
            try:
                await asyncio.wait_for(stop.wait(), timeout=ttl / 3)
            except TimeoutError:
                pass
