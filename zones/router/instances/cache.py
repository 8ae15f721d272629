"""What the forwarding path needs, kept in memory: mappings and children.

A read that enters at the root and goes four zones down would otherwise pay
each zone's database for the same two facts (which child leads to this
instance, and how to reach that child). Mappings are remembered when written
or first read and forgotten when written again or removed, by this worker or
(told by the commit feed) another. Children are
read again after every commit of this process that wrote one (a poll round,
a zone added, changed or removed), and at most every `children_ttl` seconds
for what other workers wrote; each child's aggregate is parsed once per
generation it reports, not per create.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from zones.capabilities.aggregate import Aggregate, FreeSummary, aggregate_from_json, free_from_json
from zones.capabilities.reserved import Room, reserved_from_json
from zones.node.commits import Keys, watch_commits, watch_keys
from zones.node.database import Sessions
from zones.node.workers.claims import Claims
from zones.router.children.models import ChildZone
from zones.router.instances.models import InstanceMapping


@dataclass(frozen=True)
class CachedMapping:
    child_id: int
    client: str
    snapshot: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class ChildAggregate:
    """What a child last reported it offers, parsed: its capabilities and free inventory."""

    generation: object
    capabilities: Aggregate
    free: FreeSummary
    hosts: int  # the hosts and instances it counts, its subtree's included
    instances: int
    # Its open room (what no reserved key keeps) and the keys reserved below it; a child
    # that sends no open room (an older zone) reserves nothing, and all its room is open.
    open: Room | None = None
    reserved: frozenset[str] = frozenset()

    @property
    def open_room(self) -> Room:
        if self.open is None:
            return Room(self.capabilities, self.free, self.hosts)
        return self.open


def child_aggregate(generation: object, raw: Any) -> ChildAggregate:
    """A child's info or summary (decoded JSON), parsed; ValueError (or a KeyError,
    TypeError) when it is not one."""
    open_room = raw.get("open")
    return ChildAggregate(
        generation,
        aggregate_from_json(raw["capabilities"]),
        free_from_json(raw["free"]),
        int(raw["hosts"]),
        int(raw["instances"]),
        None if open_room is None else Room.from_json(open_room),
        reserved_from_json(raw.get("reserved")),
    )


Report = tuple[ChildZone, ChildAggregate]  # a healthy child and what it last reported
# A summary the child's zone-info keeper built: which process built it, after how many of
# its changes. Of two from one process, the later one counts.
BuiltAs = tuple[str, int]
MAX_SUMMARY_BYTES = 6000  # well inside the 8 KiB a response header may take


@dataclass(frozen=True)
class Learnt:
    """What a child's answer to a write said it has now, until its stored info moves on."""

    report: ChildAggregate
    built_as: BuiltAs
    stored: object  # the generation stored for the child when this was learnt


def summary_of(raw: str) -> tuple[ChildAggregate, BuiltAs] | None:
    """A child's X-Zones-Summary, parsed and checked; None for anything else."""
    try:
        summary = json.loads(raw)
        process, changes = summary["built_as"]
        report = child_aggregate(int(summary["generation"]), summary)
        return report, (str(process), int(changes))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


class RoutingCache:
    def __init__(
        self,
        sessions: Sessions,
        claims: Claims,
        children_ttl: float = 1.0,
        capacity: int = 200_000,
    ):
        self._sessions, self._claims = sessions, claims
        self._children_ttl = children_ttl
        self._capacity = capacity
        self._children: dict[int, ChildZone] = {}
        self._children_read_at = float("-inf")
        self._children_changes = 0
        self._aggregates: dict[int, ChildAggregate] = {}
        self._learnt: dict[int, Learnt] = {}
        self._listeners: list[Callable[[], None]] = []
        self._healthy: tuple[dict[int, ChildZone], list[Report]] = ({}, [])
        watch_commits(sessions, ChildZone, self.children_changed)
        self._mappings: OrderedDict[str, CachedMapping] = OrderedDict()
        watch_keys(sessions, InstanceMapping, self.forget_written)
        self._lists: set[asyncio.Event] = set()

    @asynccontextmanager
    async def one_at_a_time(self, instance_id: str) -> AsyncIterator[None]:
        """One create, move or delete per id at a time in the whole zone: a concurrent retry
        waits for the first, then finds what it made, instead of placing a second copy
        elsewhere; a delete cannot slip between a move's new copy and its removal of the
        old one (zones.node.workers.claims)."""
        async with self._claims.hold(instance_id):
            yield

    @asynccontextmanager
    async def listing(self) -> AsyncIterator[None]:
        """Mark a list under way here (see `lists_begun_so_far`)."""
        done = asyncio.Event()
        self._lists.add(done)
        try:
            yield
        finally:
            done.set()
            self._lists.discard(done)

    @property
    def lists_under_way(self) -> int:
        return len(self._lists)

    async def lists_begun_so_far(self, timeout: float) -> None:
        """Wait (at most `timeout`) for the lists under way here to end. A move calls this
        after switching its mapping and before deleting the old copy: a list that chose
        which children to ask before the switch then still finds the old copy."""
        under_way = [asyncio.ensure_future(done.wait()) for done in self._lists]
        if under_way:
            _, late = await asyncio.wait(under_way, timeout=timeout)
            for waiting in late:
                waiting.cancel()

    def mapping(self, instance_id: str) -> CachedMapping | None:
        found = self._mappings.get(instance_id)
        if found is not None:
            self._mappings.move_to_end(instance_id)
        return found

    def remember(self, instance_id: str, mapping: CachedMapping) -> None:
        self._mappings[instance_id] = mapping
        self._mappings.move_to_end(instance_id)
        while len(self._mappings) > self._capacity:
            self._mappings.popitem(last=False)

    def forget(self, instance_id: str) -> None:
        self._mappings.pop(instance_id, None)

    def forget_written(self, instance_ids: Keys) -> None:
        """A commit wrote these mappings (None: any): what is remembered of them may be
        behind. (This process remembers its own writes after they commit.)"""
        if instance_ids is None:
            self.forget_all()
            return
        for instance_id in instance_ids:
            self._mappings.pop(str(instance_id), None)

    def forget_all(self) -> None:
        """Drop every remembered mapping (the database's were rebuilt or restored)."""
        self._mappings.clear()

    def children_changed(self) -> None:
        """A commit wrote a child: read them again before the next use."""
        self._children_changes += 1
        self._children_read_at = float("-inf")

    def on_report(self, listener: Callable[[], None]) -> None:
        """Call `listener` when an answer to a write tells what a child has now."""
        self._listeners.append(listener)

    def learn_summary(self, child_id: int, raw: str | None) -> None:
        """What a child said it has after a write this zone sent it: its aggregate from now
        on, until the child's stored info moves on (a poll or watch recorded it, or newer)."""
        parsed = None if raw is None or len(raw) > MAX_SUMMARY_BYTES else summary_of(raw)
        if parsed is None:
            return
        report, built_as = parsed
        known = self._learnt.get(child_id)
        if known is not None and known.built_as[0] == built_as[0]:
            if known.built_as[1] >= built_as[1]:
                return  # an answer overtaken by a later one from the same process
        child = self._children.get(child_id)
        stored = (
            None if child is None or child.last_info is None else child.last_info.get("generation")
        )
        self._learnt[child_id] = Learnt(report, built_as, stored)
        self._healthy = ({}, [])
        for listener in self._listeners:
            listener()

    def aggregate(self, child: ChildZone) -> ChildAggregate | None:
        """The child's last reported aggregate, parsed once per generation; None if none."""
        stored = None if child.last_info is None else child.last_info.get("generation")
        learnt = self._learnt.get(child.id)
        if learnt is not None:
            if stored == learnt.stored:
                return learnt.report
            del self._learnt[child.id]  # stored anew since: that counts
        if child.last_info is None:
            return None
        generation = stored
        known = self._aggregates.get(child.id)
        if known is None or generation is None or known.generation != generation:
            known = child_aggregate(generation, child.last_info)
            self._aggregates[child.id] = known
        return known

    async def healthy_reports(self) -> list[Report]:
        """The healthy children that reported, each with its parsed aggregate: worked out once
        per read of the children, not per create."""
        children = await self._fresh_children()
        if self._healthy[0] is not children:
            reports = [(child, self.aggregate(child)) for child in children.values()]
            healthy = [(c, report) for c, report in reports if c.is_healthy and report is not None]
            self._healthy = (children, healthy)
        return self._healthy[1]

    async def child(self, child_id: int) -> ChildZone | None:
        return (await self._fresh_children()).get(child_id)

    async def children(self) -> list[ChildZone]:
        return list((await self._fresh_children()).values())

    async def _fresh_children(self) -> dict[int, ChildZone]:
        if time.monotonic() - self._children_read_at > self._children_ttl:
            changes, started = self._children_changes, time.monotonic()
            async with self._sessions.begin() as session:
                rows = await session.scalars(select(ChildZone))
                self._children = {row.id: row for row in rows}
            for gone in self._aggregates.keys() - self._children.keys():
                del self._aggregates[gone]
            # A commit that wrote a child while this read was out: read again next time.
            if self._children_changes == changes:
                self._children_read_at = started
        return self._children
