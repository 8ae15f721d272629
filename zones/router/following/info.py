"""`GET /zones/info`: this zone as its parents see it.

The answer merges the zone's own static capabilities, those of its live
hosts (and the instances it holds), and what its healthy children last
reported (an offline or disabled child counts for nothing), with the open room
(what no reserved key keeps) apart and the keys reserved below. It is kept built
(ZoneInfoKeeper) and built again only when something it shows changed.
`generation` is derived from the rest of the answer, so it changes exactly
when the answer does; parents send it back as `If-None-Match` and an
unchanged zone answers 304 without a body.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from zones.capabilities.aggregate import (
    Aggregate,
    FreeSummary,
    aggregate,
    aggregate_from_json,
    aggregate_to_json,
    free_from_json,
    free_of_hosts,
    free_to_json,
    merge,
    merge_free,
)
from zones.capabilities.hosts.board import HostBoard
from zones.capabilities.hosts.registry import LiveHost
from zones.capabilities.reserved import Room
from zones.node.commits import watch_commits
from zones.node.config import Settings
from zones.node.database import AsyncSession, Sessions, run, utcnow
from zones.router.children.models import ChildZone
from zones.router.children.registry import zone_names
from zones.router.children.schemas import ChildSummary, ZoneInfo
from zones.router.index.models import ClientIndex
from zones.router.instances.cache import MAX_SUMMARY_BYTES, Report, RoutingCache
from zones.router.instances.models import Instance

# How long the held watches may wait, after a child's answer to a write changed what this
# zone shows, for the write's commit to wake them (ZoneInfoKeeper._reported).
REPORT_GRACE_SECONDS = 0.05


def generation_of(content: dict[str, Any]) -> int:
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).digest()
    return int.from_bytes(digest[:6], "big")


def etag_of(generation: int) -> str:
    return f'"{generation}"'


class ZoneInfoKeeper:
    """This zone's info, built when something it shows changed, not on every poll.

    Built from the copies in memory (live hosts, children and their parsed
    aggregates) and one indexed read (when a client's row last changed); the
    instances held here are counted again only after a commit wrote one, or
    `max_age` after they were counted; built again after a commit of this
    process that changes what it shows (a host's offer, a child's name, state,
    uuid or report, a client's row, an instance), when the first live host
    expires, and at the latest `max_age` seconds after it was built (what
    other processes over the same database wrote). Between, a poll answered 304
    costs one comparison.
    """

    def __init__(
        self,
        settings: Settings,
        zone_uuid: str,
        sessions: Sessions,
        hosts: HostBoard,
        children: RoutingCache,
        max_age: float,
    ) -> None:
        self._settings, self._uuid, self._sessions = settings, zone_uuid, sessions
        self._hosts, self._children, self._max_age = hosts, children, max_age
        self._info: ZoneInfo | None = None
        self._valid_until = float("-inf")
        self._first_expiry = float("inf")  # monotonic: when the first live host expires
        self._changes = 0
        self._instances: tuple[int, float] | None = None  # counted here, and when (monotonic)
        self._instance_writes = 0
        self._moved = asyncio.Event()  # set (and replaced) on each change: wakes held watches
        self._released = False
        self._process = uuid.uuid4().hex[:12]
        self._built_after = 0  # the changes the kept info was built after
        self._wake_later: asyncio.TimerHandle | None = None
        hosts.on_change(self.changed)
        children.on_report(self._reported)
        watch_commits(sessions, ChildZone, self.changed, columns=SHOWN_OF_A_CHILD)
        watch_commits(sessions, ClientIndex, self.changed)
        watch_commits(sessions, Instance, self._instances_written)

    def changed(self) -> None:
        self._outdated()
        self._wake_watches()

    def _reported(self) -> None:
        """A child's answer to a write said what it has now. The write's own commit follows
        at once and changes the info again (its client index): the held watches are woken
        by that commit, so that parents get one new generation per write, not two; only if
        no commit comes within `REPORT_GRACE_SECONDS` are they woken for the report alone."""
        self._outdated()
        if self._wake_later is None:
            loop = asyncio.get_running_loop()
            self._wake_later = loop.call_later(REPORT_GRACE_SECONDS, self._wake_watches)

    def _outdated(self) -> None:
        """What the kept info shows changed: it is built again at its next use."""
        self._changes += 1
        self._valid_until = float("-inf")

    def _wake_watches(self) -> None:
        if self._wake_later is not None:
            self._wake_later.cancel()
            self._wake_later = None
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    def _instances_written(self) -> None:
        self._instance_writes += 1
        self._instances = None
        self.changed()

    async def _counted(self, session: AsyncSession) -> tuple[int, datetime | None]:
        """The instances held here and when a client's row last changed: the count from
        memory unless a commit wrote an instance since, or it is `max_age` old (a count is
        a scan of the table on SQLite; the other read is one index seek)."""
        now, writes, kept = time.monotonic(), self._instance_writes, self._instances
        if kept is not None and now - kept[1] < self._max_age:
            # `kept` as it was before the read: a write meanwhile makes the next build count.
            changed_at = (await run(session, LAST_CHANGE, {})).scalar()
            return kept[0], changed_at
        counted, changed_at = (await run(session, COUNTS, {})).one()
        if writes == self._instance_writes:  # no instance written while it was counted
            self._instances = (counted, now)
        return counted, changed_at

    async def summary(self) -> str | None:
        """This zone's info as a parent keeps it, for the answer to a write the parent sent
        (X-Zones-Summary); None when it would not fit in a header."""
        info = await self.current()
        summary = json.dumps(
            {
                "generation": info.generation,
                "built_as": [self._process, self._built_after],
                "capabilities": info.capabilities,
                "free": info.free,
                "hosts": info.hosts,
                "instances": info.instances,
                "open": None if info.open is None else info.open.model_dump(),
                "reserved": info.reserved,
            },
            separators=(",", ":"),
        )
        return summary if len(summary) <= MAX_SUMMARY_BYTES else None

    def release(self) -> None:
        """Answer every held watch now, and hold none from here on (the zone is stopping)."""
        self._released = True
        self._wake_watches()

    async def changed_from(self, etag: str, wait: float) -> ZoneInfo:
        """The info once it differs from `etag`, or as it is after `wait` seconds.

        Waiting costs nothing while nothing changes: it wakes only when this
        process changes what the info shows, or when a live host expires, and
        builds the info again only then (no timer reads the database).
        """
        deadline = time.monotonic() + wait
        while True:
            # Taken before the info is built: a change while it is being built (which
            # awaits) sets this event, so the wait below ends at once and builds again.
            moved = self._moved
            info = await self.current()
            now = time.monotonic()
            if etag_of(info.generation) != etag or self._released or now >= deadline:
                return info
            # Not below 10 ms: a host that expires right now must not spin the loop.
            until = max(0.01, min(deadline, self._first_expiry) - now)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(until):
                    await moved.wait()

    async def current(self) -> ZoneInfo:
        if self._info is not None and time.monotonic() < self._valid_until:
            return self._info
        changes, started = self._changes, time.monotonic()
        children = await self._children.children()
        reports = await self._children.healthy_reports()
        async with self._sessions.begin() as session:
            hosts = await self._hosts.live(session)
            counted, clients_changed_at = await self._counted(session)
        info = zone_info_of(
            self._settings, self._uuid, hosts, children, reports, counted, clients_changed_at
        )
        self._info, self._built_after = info, changes
        expiry = until_first_expiry(hosts)
        self._first_expiry = started + expiry
        if changes == self._changes:  # nothing changed while it was built
            self._valid_until = started + min(self._max_age, expiry)
        return info


# When any client's row last changed here (parents compare it with what they fetched), and
# with it the instances held here: one statement each, built once.
LAST_CHANGE = select(func.max(ClientIndex.changed_at))
COUNTS = select(
    select(func.count()).select_from(Instance).scalar_subquery(),
    LAST_CHANGE.scalar_subquery(),
)


def until_first_expiry(hosts: list[LiveHost]) -> float:
    """Seconds until the first of the hosts an info was built from expires (and the info with
    it); zero or less when one already has, while the info was being built."""
    if not hosts:
        return float("inf")
    return (min(host.expires_at for host in hosts) - utcnow()).total_seconds()


# What /zones/info shows of a child: a change of anything else (poll times) does not count.
SHOWN_OF_A_CHILD = ("name", "uuid", "enabled", "state", "last_info")


def zone_info_of(
    settings: Settings,
    zone_uuid: str,
    hosts: list[LiveHost],
    children: list[ChildZone],
    reports: list[Report],
    instances_here: int,
    clients_changed_at: datetime | None,
) -> ZoneInfo:
    capabilities = aggregate([settings.zone.capabilities, *(host.capabilities for host in hosts)])
    free = free_of_hosts(host.free for host in hosts)
    host_count, instance_count = len(hosts), instances_here
    children = sorted(children, key=lambda child: child.id)
    # In one order each time: sums of floats in another order may differ in the last digit,
    # and with them the generation.
    for _, reported in sorted(reports, key=lambda report: report[0].id):
        capabilities = merge(capabilities, reported.capabilities)
        free = merge_free(free, reported.free)
        host_count += reported.hosts
        instance_count += reported.instances
    open_room, reserved = open_room_of(settings, hosts, reports)
    down_capabilities, down_free = unavailable_below(children)
    content: dict[str, Any] = {
        "uuid": zone_uuid,
        "name": settings.zone.name,
        "url": settings.url,
        "capabilities": aggregate_to_json(capabilities),
        "free": free_to_json(free),
        "hosts": host_count,
        "instances": instance_count,
        "children": [
            ChildSummary(name=c.name, state=c.display_state, uuid=c.uuid).model_dump()
            for c in children
        ],
        "descendants": sorted(descendants_of(children)),
        "descendant_names": sorted(descendant_names_of(children)),
        "clients_changed_at": iso(clients_changed_at),
        "unavailable": {
            "capabilities": aggregate_to_json(down_capabilities),
            "free": free_to_json(down_free),
        },
        # With nothing reserved below, all the room is open: null says so, and keeps the
        # document (and the summary a write's answer carries up) as small as before.
        "open": open_room.to_json() if reserved else None,
        "reserved": sorted(reserved),
    }
    return ZoneInfo(**content, generation=generation_of(content))


def open_room_of(
    settings: Settings, hosts: list[LiveHost], reports: list[Report]
) -> tuple[Room, set[str]]:
    """The room no reserved key keeps (none, when this zone is reserved: its whole subtree
    then is), and every key reserved here and below (zones.capabilities.reserved)."""
    reserved = set(settings.zone.reserved)
    for host in hosts:
        reserved.update(host.reserved)
    for _, reported in reports:
        reserved.update(reported.reserved)
    if settings.zone.reserved:
        return Room(), reserved
    open_hosts = [host for host in hosts if not host.reserved]
    room = Room(
        aggregate([settings.zone.capabilities, *(host.capabilities for host in open_hosts)]),
        free_of_hosts(host.free for host in open_hosts),
        len(open_hosts),
    )
    for _, reported in sorted(reports, key=lambda report: report[0].id):  # same sums each time
        room = room.merge(reported.open_room)
    return room, reserved


def unavailable_below(children: list[ChildZone]) -> tuple[Aggregate, FreeSummary]:
    """What the subtree's offline zones last reported: an offline child's whole last report,
    and what each child's own report kept apart as unavailable."""
    capabilities: Aggregate = {}
    free: FreeSummary = {}
    for child in children:  # sorted by id: the same sums each time
        if not child.enabled or child.last_info is None:
            continue
        parts = [child.last_info.get("unavailable") or {}]
        if child.state == "offline":
            parts.append(child.last_info)
        for part in parts:
            try:
                capabilities = merge(
                    capabilities, aggregate_from_json(part.get("capabilities", {}))
                )
                free = merge_free(free, free_from_json(part.get("free", {})))
            except (ValueError, TypeError, AttributeError):
                continue  # stored before it was checked: nothing is counted from it
    return capabilities, free


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def descendant_names_of(children: list[ChildZone]) -> set[str]:
    """Every zone name below this one: the names the zones give themselves, as last polled."""
    found: set[str] = set()
    for child in children:
        found.update(zone_names(child))
    return found


def descendants_of(children: list[ChildZone]) -> set[str]:
    """Every zone uuid below this one, as far as the last polls tell."""
    found: set[str] = set()
    for child in children:
        if child.uuid is not None:
            found.add(child.uuid)
        if child.last_info is not None:
            found.update(str(uuid) for uuid in child.last_info.get("descendants", []))
    return found
