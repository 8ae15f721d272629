"""Placement: which of this zone's own live hosts takes a new instance, or else which children.

A requirement this zone's static capabilities settle is not asked of its hosts
(it holds for everything below the zone); one they contradict rules the zone
out. Reserved room (zones.capabilities.reserved) is only for creates whose
requirements name every reserved key: a zone with `[zone] reserved` places
nothing else on its hosts or below it, a host whose heartbeat reserves keys
takes nothing else, and a child is matched against its open room only unless
the create names a key reserved below it.

Among the hosts that satisfy the rest and have room, the order follows
`[router] strategy`: "spread" (the default) tries the host with the most
headroom left after the allocation first, "pack" the one with the least (the
fullest host that still fits); then the next, so two concurrent creates that
race for the last room on one host both end placed when another host has room.
When no own host takes it, the candidates are the healthy children whose
aggregates may satisfy it and whose `free.max` may fit it, best first: higher
`weight_offset`, then the most free room (spread) or the least (pack).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from zones.capabilities.aggregate import FreeSummary, aggregate_from_json, free_from_json
from zones.capabilities.hosts.board import HostBoard
from zones.capabilities.hosts.registry import LiveHost
from zones.capabilities.matching import (
    Condition,
    aggregate_may_satisfy,
    fits_host,
    host_satisfies,
    may_fit_zone,
    split_static,
)
from zones.capabilities.reserved import Room, may_use, names_reserved, reserved_from_json
from zones.capabilities.values import CapabilityValue
from zones.node.config import Settings
from zones.node.database import AsyncSession
from zones.router.children.models import ChildZone
from zones.router.children.registry import zone_names
from zones.router.instances.cache import ChildAggregate
from zones.router.instances.new_instance import NewInstance
from zones.router.instances.route import Route

Strategy = Literal["spread", "pack"]


@dataclass(frozen=True)
class Placement:
    """Where an instance went (`host`), or why it went nowhere (`fault`)."""

    host: str | None
    fault: str | None


@dataclass(frozen=True)
class Policy:
    """What placement weighs besides requirements and room: the keys the create names (all
    of its requirements', settled above or not), what this zone reserves, and the strategy."""

    named: frozenset[str] = frozenset()
    zone_reserved: tuple[str, ...] = ()
    strategy: Strategy = "spread"

    @classmethod
    def of(cls, settings: Settings, new: NewInstance) -> Policy:
        return cls(
            frozenset(condition.key for condition in new.conditions),
            settings.zone.reserved,
            settings.router.strategy,
        )

    @property
    def zone_refuses(self) -> bool:
        """This zone is reserved for keys the create does not name: nothing here or below."""
        return not may_use(self.zone_reserved, self.named)

    def refusal(self) -> str:
        return (
            f"this zone is reserved for {', '.join(self.zone_reserved)}: only requirements "
            "that name it are placed here or below"
        )


def headroom(host: LiveHost, resources: Mapping[str, float]) -> float:
    """How much room the host keeps after taking `resources`, as a share of its inventory."""
    return sum(
        (host.free.get(key, 0.0) - amount) / max(host.inventory.get(key, 0.0), 1.0)
        for key, amount in resources.items()
    )


def hosts_in_order(
    hosts: list[LiveHost], resources: Mapping[str, float], strategy: Strategy
) -> list[LiveHost]:
    """The hosts to try, first first: most headroom left (spread) or least (pack); by name
    among equals."""
    sign = -1.0 if strategy == "spread" else 1.0
    return sorted(hosts, key=lambda host: (sign * headroom(host, resources), host.name))


def wanted(resources: Mapping[str, float]) -> str:
    return ", ".join(f"{key} {amount:g}" for key, amount in resources.items()) or "nothing"


def keys_of(hosts: list[LiveHost]) -> str:
    return ", ".join(sorted({key for host in hosts for key in host.reserved}))


async def place_on_own_hosts(
    session: AsyncSession,
    board: HostBoard,
    conditions: list[Condition],
    resources: Mapping[str, float],
    static: Mapping[str, CapabilityValue],
    leaving: str | None = None,
    policy: Policy = Policy(),
) -> Placement:
    """A host for the instance (never `leaving`, the host a moving instance is on now)."""
    if policy.zone_refuses:
        return Placement(None, policy.refusal())
    remaining = split_static(conditions, static)
    if remaining is None:
        return Placement(None, "this zone's own capabilities rule the requirements out")
    hosts = [host for host in await board.live(session) if host.name != leaving]
    suitable = [host for host in hosts if host_satisfies(remaining, host.capabilities)]
    if not suitable:
        return Placement(None, "no live host satisfies the requirements")
    usable = [host for host in suitable if may_use(host.reserved, policy.named)]
    kept = [host for host in suitable if host not in usable]
    if not usable:
        return Placement(
            None,
            f"the hosts that satisfy the requirements are reserved for {keys_of(kept)}: "
            "requirements that name it may use them",
        )
    roomy = [host for host in usable if fits_host(resources, host.free)]
    for host in hosts_in_order(roomy, resources, policy.strategy):
        if await board.allocate(session, host.name, resources):
            return Placement(host.name, None)
    kept_roomy = [host for host in kept if fits_host(resources, host.free)]
    if kept_roomy:
        return Placement(
            None,
            f"no open host that satisfies the requirements has room for {wanted(resources)}; "
            f"the room left is reserved for {keys_of(kept_roomy)}",
        )
    return Placement(
        None, f"no host that satisfies the requirements has room for {wanted(resources)}"
    )


def room_for(reported: ChildAggregate, named: frozenset[str]) -> tuple[Room, bool]:
    """The room of a child a create naming `named` may use, and whether it is only the open
    room: all of it when the create names a key reserved below the child."""
    if names_reserved(named, reported.reserved):
        return Room(reported.capabilities, reported.free, reported.hosts), False
    return reported.open_room, reported.open is not None


def may_take(room: Room, open_only: bool, remaining: list[Condition], new: NewInstance) -> bool:
    """Whether some host in `room` may take `new` (open room without hosts takes nothing)."""
    if open_only and room.hosts == 0:
        return False
    return aggregate_may_satisfy(remaining, room.capabilities) and may_fit_zone(
        new.resources, room.free
    )


def fits_report(
    new: NewInstance, remaining: list[Condition], part: Mapping[str, Any], named: frozenset[str]
) -> bool:
    """Whether a report's capabilities and free inventory (stored JSON) may take `new`: its
    open room only, when the report keeps one apart and `new` names none of its reserved keys."""
    try:
        if part.get("open") is not None and not names_reserved(
            named, reserved_from_json(part.get("reserved"))
        ):
            part = part["open"]
        capabilities = aggregate_from_json(part.get("capabilities", {}))
        free = free_from_json(part.get("free", {}))
    except (ValueError, TypeError, AttributeError):
        return False
    return aggregate_may_satisfy(remaining, capabilities) and may_fit_zone(new.resources, free)


async def down_but_fitting(
    route: Route, new: NewInstance, asked: frozenset[int]
) -> tuple[list[ChildZone], list[str]]:
    """Where what fits is down: healthy children not yet asked whose reports keep apart an
    `unavailable` part that may take it (asked last: they name the zone that is down), and
    the offline children whose last report may take it."""
    policy = Policy.of(route.settings, new)
    remaining = split_static(new.open_conditions, route.settings.zone.capabilities)
    if remaining is None or policy.zone_refuses:
        return [], []
    to_ask, offline = [], []
    for child in await route.cache.children():
        if child.id in asked or not child.enabled or child.last_info is None:
            continue
        if new.target is not None and new.target not in zone_names(child):
            continue
        if child.is_healthy:
            unavailable = child.last_info.get("unavailable") or {}
            if fits_report(new, remaining, unavailable, policy.named):
                to_ask.append(child)
        elif fits_report(new, remaining, child.last_info, policy.named):
            offline.append(child.name)
    return sorted(to_ask, key=lambda child: child.id), sorted(offline)


def room_of_child(free: FreeSummary, resources: Mapping[str, float]) -> float:
    """How much of what is asked for a child has free in all (the strategy's measure)."""
    return sum(free[key].sum for key in resources if key in free)


async def candidate_children(
    route: Route, new: NewInstance, excluded: frozenset[int] = frozenset()
) -> list[ChildZone]:
    """Healthy children that may place the instance, best first (from memory's copy)."""
    policy = Policy.of(route.settings, new)
    remaining = split_static(new.open_conditions, route.settings.zone.capabilities)
    if remaining is None or policy.zone_refuses:
        return []
    sign = -1.0 if policy.strategy == "spread" else 1.0
    ranked = []
    for child, reported in await route.cache.healthy_reports():
        if child.id in excluded:
            continue
        if new.target is not None and new.target not in zone_names(child):
            continue
        room, open_only = room_for(reported, policy.named)
        if may_take(room, open_only, remaining, new):
            measure = sign * room_of_child(room.free, new.resources)
            ranked.append((-child.weight_offset, measure, child.id, child))
    return [child for *_, child in sorted(ranked, key=lambda entry: entry[:3])]


async def no_child_fault(route: Route, new: NewInstance) -> str:
    """Why no healthy child is a candidate: this zone is reserved, or the room below that
    may take the instance is all reserved (naming the children), or nothing may take it."""
    policy = Policy.of(route.settings, new)
    if policy.zone_refuses:
        return policy.refusal()
    remaining = split_static(new.open_conditions, route.settings.zone.capabilities)
    kept_for: dict[str, set[str]] = {}
    for child, reported in await route.cache.healthy_reports():
        if remaining is None or reported.open is None:
            continue
        if new.target is not None and new.target not in zone_names(child):
            continue
        whole = Room(reported.capabilities, reported.free, reported.hosts)
        if may_take(whole, False, remaining, new):
            kept_for[child.name] = set(reported.reserved)
    if not kept_for:
        return "no healthy child may satisfy it and have room"
    keys = ", ".join(sorted(set().union(*kept_for.values())))
    return (
        f"no healthy child has open room that may take it; the room left below is reserved "
        f"for {keys} (in {', '.join(sorted(kept_for))}): requirements that name it may use it"
    )
