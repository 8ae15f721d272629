"""The live hosts in memory: the copy placement reads, fed by the writes this zone commits.

Placement reads every live host on each create; the database stays the truth
(an allocation is still a conditional update there, the only guard against
overfilling a host), and this is a copy of it. Every heartbeat, allocation,
release and removal this process commits updates the copy once the commit is
done (zones.node.commits.after_commit), and the whole is read again at most
every `refresh` seconds, so what other worker processes over the same
database wrote reaches it within that time, or at once where their commits are
heard (`follow_elsewhere`, zones.node.workers.feed). A copy that is behind can only
offer a host the database then refuses (the allocation fails and the next
host is tried), or miss a host for at most `refresh` seconds.

Most heartbeats say what the host's last one said and only move its expiry.
Such a heartbeat is answered from here (`beat_in_memory`), and the expiries it
moved are written together, one statement for all hosts, every
`[hosts] expiry_flush_interval` seconds (`flush_forever`), as Nomad keeps its
heartbeat timers in memory. The database's expiry then trails the truth by at
most that long, so a heartbeat whose stored expiry would run out first goes to
the database itself; a lost flush (a crash) can only make a host look expired
until its next heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import NamedTuple

from zones.capabilities.hosts import registry
from zones.capabilities.hosts.models import Host
from zones.capabilities.hosts.registry import LiveHost
from zones.node.commits import Keys, after_commit, watch_keys, wrote
from zones.node.database import AsyncSession, Sessions, utcnow

log = logging.getLogger("zones.hosts")


class MovedExpiry(NamedTuple):
    digest: str
    expires_at: datetime
    at: datetime


class HostBoard:
    def __init__(self, refresh: float = 1.0, flush_interval: float = 0.5) -> None:
        self._refresh, self._flush_interval = refresh, flush_interval
        self._hosts: dict[str, LiveHost] = {}
        self._read_at = float("-inf")
        self._changes = 0  # copies made since start: a read that overlapped one is re-read
        self._listeners: list[Callable[[], None]] = []
        self._stored: dict[str, datetime] = {}  # each host's expiry as the database has it
        self._moved: dict[str, MovedExpiry] = {}  # expiries moved here, not yet written
        self._to_flush = asyncio.Event()  # set while _moved holds something
        self._writing: dict[str, MovedExpiry] = {}  # the ones a flush is writing now

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

    def beat_in_memory(self, name: str, digest: str, ttl: float) -> LiveHost | None:
        """A heartbeat that says what the host's last stored one said (`digest`): the host with
        its expiry moved, here at once and in the database with the next flush. None when the
        heartbeat must go to the database: the host is new here or says something new, or its
        stored expiry would run out before a flush lands."""
        host, now = self._hosts.get(name), utcnow()
        if host is None or host.digest != digest or host.expires_at <= now:
            return None
        if self._stored.get(name, now) - now <= timedelta(seconds=2 * self._flush_interval):
            return None
        moved = replace(host, expires_at=now + timedelta(seconds=ttl))
        self._hosts[name] = moved
        self._moved[name] = MovedExpiry(digest, moved.expires_at, now)
        self._to_flush.set()
        return moved

    async def flush(self, sessions: Sessions) -> None:
        """Write the expiries moved in memory since the last flush, one statement for all."""
        moves, self._moved = self._moved, {}
        self._to_flush.clear()
        if not moves:
            return
        self._writing = moves
        rows = [
            {"host": name, "said": move.digest, "expires": move.expires_at, "at": move.at}
            for name, move in moves.items()
        ]
        try:
            async with sessions.begin() as session:
                await registry.move_expiries(session, rows)
        except BaseException:
            for name, move in moves.items():  # written with the next flush, unless overtaken
                self._moved.setdefault(name, move)
            self._to_flush.set()
            raise
        finally:
            self._writing = {}
        for name, move in moves.items():
            self._stored[name] = max(self._stored.get(name, move.expires_at), move.expires_at)

    async def flush_forever(self, sessions: Sessions) -> None:
        """Flush `flush_interval` seconds after an expiry moved, until cancelled (the app's
        lifecycle runs it); with no heartbeats coming, it does not wake at all."""
        while True:
            await self._to_flush.wait()
            await asyncio.sleep(self._flush_interval)
            try:
                await self.flush(sessions)
            except Exception:
                log.exception("cannot write the heartbeats' expiries; trying again")

    async def allocate(
        self, session: AsyncSession, name: str, resources: Mapping[str, float]
    ) -> bool:
        """`registry.allocate`, copied here once the session commits."""
        taken = await registry.allocate(session, name, resources)
        if taken:
            wrote(session, Host, name)
            after_commit(session, lambda: self._allocated(name, resources, +1))
        return taken

    async def release(
        self, session: AsyncSession, name: str, resources: Mapping[str, float]
    ) -> None:
        await registry.release(session, name, resources)
        wrote(session, Host, name)
        after_commit(session, lambda: self._allocated(name, resources, -1))

    def heard(self, session: AsyncSession, host: LiveHost) -> None:
        """A heartbeat stored `host` in this session."""
        wrote(session, Host, host.name)
        after_commit(session, lambda: self._copy(host))

    def removed(self, session: AsyncSession, name: str) -> None:
        wrote(session, Host, name)
        after_commit(session, lambda: self._drop(name))

    def follow_elsewhere(self, sessions: Sessions) -> None:
        """Hear of hosts other processes over the database stored (zones.node.commits):
        the copy is read again before its next use."""
        watch_keys(sessions, Host, self._written_elsewhere, here=False)

    def _written_elsewhere(self, _names: Keys) -> None:
        self._changes += 1  # a read under way may predate that commit: read again
        self._read_at = float("-inf")
        self._changed()

    async def _read(self, session: AsyncSession) -> None:
        changes, started = self._changes, time.monotonic()
        hosts = self._with_moved_expiries(await registry.live_hosts(session))
        differ = {name: offer(host) for name, host in hosts.items()} != {
            name: offer(host) for name, host in self._hosts.items()
        }
        self._hosts = hosts
        # A copy made while reading may be missing from what was read: read again soon.
        self._read_at = started if self._changes == changes else float("-inf")
        if differ:
            self._changed()

    def _with_moved_expiries(self, read: list[LiveHost]) -> dict[str, LiveHost]:
        """What was read, with the expiries moved here and not yet written kept: the database
        trails them, and a host it already counts as expired is still live here."""
        hosts = {host.name: host for host in read}
        for host in read:
            self._stored[host.name] = host.expires_at
        for name, move in (*self._writing.items(), *self._moved.items()):
            known = hosts.get(name) or self._hosts.get(name)
            if known is not None and known.digest == move.digest:
                later = max(known.expires_at, move.expires_at)
                hosts[name] = replace(known, expires_at=later)
        return hosts

    def _copy(self, host: LiveHost) -> None:
        self._changes += 1
        known = self._hosts.get(host.name)
        self._hosts[host.name] = host
        self._stored[host.name] = host.expires_at
        self._moved.pop(host.name, None)  # what was just stored supersedes it
        if known is None or known.expires_at <= utcnow() or offer(known) != offer(host):
            self._changed()

    def _drop(self, name: str) -> None:
        self._changes += 1
        self._moved.pop(name, None)
        self._stored.pop(name, None)
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
    return (host.capabilities, host.reserved, host.inventory, host.allocations)
