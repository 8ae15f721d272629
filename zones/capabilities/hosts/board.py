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
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from zones.capabilities.hosts import registry
from zones.capabilities.hosts.registry import LiveHost
from zones.node.commits import after_commit
from zones.node.database import AsyncSession, utcnow


class HostBoard:
    def __init__(self, refresh: float = 1.0) -> None:
        self._refresh = refresh
        self._hosts: dict[str, LiveHost] = {}
        self._read_at = float("-inf")
        self._changes = 0  # copies made since start: a read that overlapped one is re-read
        self._listeners: list[Callable[[], None]] = []

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

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever what a live host offers changes here: a host comes, goes,
        or says or holds other amounts (not when a heartbeat only moves its expiry)."""
        self._listeners.append(listener)

    def earliest_expiry(self) -> datetime | None:
        """When the first of the hosts now live expires (what is live changes then)."""
        now = utcnow()
        return min((h.expires_at for h in self._hosts.values() if h.expires_at > now), default=None)

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
        hosts = {host.name: host for host in await registry.live_hosts(session)}
        differ = {name: offer(host) for name, host in hosts.items()} != {
            name: offer(host) for name, host in self._hosts.items()
        }
        self._hosts = hosts
        # A copy made while reading may be missing from what was read: read again soon.
        self._read_at = started if self._changes == changes else float("-inf")
        if differ:
            self._changed()

    def _copy(self, host: LiveHost) -> None:
        self._changes += 1
        known = self._hosts.get(host.name)
        self._hosts[host.name] = host
        if known is None or known.expires_at <= utcnow() or offer(known) != offer(host):
            self._changed()

    def _drop(self, name: str) -> None:
        self._changes += 1
        if self._hosts.pop(name, None) is not None:
            self._changed()

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
        self._changed()

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()


def offer(host: LiveHost) -> tuple[object, ...]:
    """What a host offers placement, its expiry aside."""
    return (host.capabilities, host.inventory, host.allocations)
