"""The live hosts in memory: the copy placement reads, fed by the writes this zone commits.

Placement reads every live host on each create; the database stays the truth
(an allocation is still a conditional update there, the only guard against
overfilling a host), and this is a copy of it. Every heartbeat, allocation,
release and removal this process commits updates the copy once the commit is
done (zones.node.database.after_commit), and the whole is read again at most
every `refresh` seconds, so what other worker processes over the same
database wrote reaches it within that time. A copy that is behind can only
offer a host the database then refuses (the allocation fails and the next
host is tried), or miss a host for at most `refresh` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from zones.capabilities.hosts import registry
from zones.capabilities.hosts.registry import LiveHost
from zones.node.database import AsyncSession, after_commit, utcnow


class HostBoard:
    def __init__(self, refresh: float = 1.0) -> None:
        self._refresh = refresh
        self._hosts: dict[str, LiveHost] = {}
        self._read_at = float("-inf")
        self._changes = 0  # copies made since start: a read that overlapped one is re-read

    async def live(self, session: AsyncSession) -> list[LiveHost]:
        """The hosts whose expiry is still ahead, by name; read again in the caller's
        session when due (never on a connection of its own: the caller holds one already)."""
        if time.monotonic() - self._read_at > self._refresh:
            await self._read(session)
        now = utcnow()
        return sorted(
            (host for host in self._hosts.values() if host.expires_at > now),
            key=lambda host: host.name,
        )

    async def allocate(
        self, session: AsyncSession, name: str, resources: Mapping[str, float]
    ) -> bool:
        """`registry.allocate`, copied here once the session commits."""
        taken = await registry.allocate(session, name, resources)
        if taken:
            after_commit(session, lambda: self._allocated(name, resources, +1))
        return taken

    async def release(
        self, session: AsyncSession, name: str, resources: Mapping[str, float]
    ) -> None:
        await registry.release(session, name, resources)
        after_commit(session, lambda: self._allocated(name, resources, -1))

    def heard(self, session: AsyncSession, host: LiveHost) -> None:
        """A heartbeat stored `host` in this session."""
        after_commit(session, lambda: self._copy(host))

    def removed(self, session: AsyncSession, name: str) -> None:
        after_commit(session, lambda: self._drop(name))

    async def _read(self, session: AsyncSession) -> None:
        changes, started = self._changes, time.monotonic()
        hosts = await registry.live_hosts(session)
        self._hosts = {host.name: host for host in hosts}
        # A copy made while reading may be missing from what was read: read again soon.
        self._read_at = started if self._changes == changes else float("-inf")

    def _copy(self, host: LiveHost) -> None:
        self._changes += 1
        self._hosts[host.name] = host

    def _drop(self, name: str) -> None:
        self._changes += 1
        self._hosts.pop(name, None)

    def _allocated(self, name: str, resources: Mapping[str, float], sign: int) -> None:
        self._changes += 1
        host = self._hosts.get(name)
        if host is None:
            return
        allocations = dict(host.allocations)
        for key, amount in resources.items():
            if key in allocations:
                allocations[key] = max(allocations[key] + sign * amount, 0.0)
        self._hosts[name] = replace(host, allocations=allocations)
