"""Placement: which of this zone's own live hosts takes a new instance, or else which children.

A requirement this zone's static capabilities settle is not asked of its hosts
(it holds for everything below the zone); one they contradict rules the zone
out. Among the hosts that satisfy the rest and have room, the one with the
most headroom left after the allocation is tried first, then the next, so two
concurrent creates that race for the last room on one host both end placed
when another host has room. When no own host takes it, the candidates are
the healthy children whose aggregates may satisfy it and whose `free.max`
may fit it, best first: higher `weight_offset`, then more free room.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zones.capabilities.aggregate import aggregate_from_json, free_from_json
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
from zones.capabilities.values import CapabilityValue
from zones.node.database import AsyncSession
from zones.router.children.models import ChildZone
from zones.router.children.registry import zone_names
from zones.router.instances.new_instance import NewInstance
from zones.router.instances.route import Route


@dataclass(frozen=True)
class Placement:
    """Where an instance went (`host`), or why it went nowhere (`fault`)."""

    host: str | None
    fault: str | None


def headroom(host: LiveHost, resources: Mapping[str, float]) -> float:
    """How much room the host keeps after taking `resources`, as a share of its inventory."""
    return sum(
        (host.free.get(key, 0.0) - amount) / max(host.inventory.get(key, 0.0), 1.0)
        for key, amount in resources.items()
    )


async def place_on_own_hosts(
    session: AsyncSession,
    board: HostBoard,
    conditions: list[Condition],
    resources: Mapping[str, float],
    static: Mapping[str, CapabilityValue],
    leaving: str | None = None,
) -> Placement:
    """A host for the instance (never `leaving`, the host a moving instance is on now)."""
    remaining = split_static(conditions, static)
    if remaining is None:
        return Placement(None, "this zone's own capabilities rule the requirements out")
    hosts = [host for host in await board.live(session) if host.name != leaving]
    suitable = [host for host in hosts if host_satisfies(remaining, host.capabilities)]
    if not suitable:
        return Placement(None, "no live host satisfies the requirements")
    roomy = [host for host in suitable if fits_host(resources, host.free)]
    for host in sorted(roomy, key=lambda host: -headroom(host, resources)):
        if await board.allocate(session, host.name, resources):
            return Placement(host.name, None)
    wanted = ", ".join(f"{key} {amount:g}" for key, amount in resources.items()) or "nothing"
    return Placement(None, f"no host that satisfies the requirements has room for {wanted}")


def fits_report(new: NewInstance, remaining: list[Condition], part: Mapping[str, object]) -> bool:
    """Whether a report's capabilities and free inventory (stored JSON) may take `new`."""
    try:
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
    remaining = split_static(new.open_conditions, route.settings.zone.capabilities)
    if remaining is None:
        return [], []
    to_ask, offline = [], []
    for child in await route.cache.children():
        if child.id in asked or not child.enabled or child.last_info is None:
            continue
        if new.target is not None and new.target not in zone_names(child):
            continue
        if child.is_healthy:
            if fits_report(new, remaining, child.last_info.get("unavailable") or {}):
                to_ask.append(child)
        elif fits_report(new, remaining, child.last_info):
            offline.append(child.name)
    return sorted(to_ask, key=lambda child: child.id), sorted(offline)


async def candidate_children(
    route: Route, new: NewInstance, excluded: frozenset[int] = frozenset()
) -> list[ChildZone]:
    """Healthy children that may place the instance, best first (from memory's copy)."""
    remaining = split_static(new.open_conditions, route.settings.zone.capabilities)
    if remaining is None:
        return []
    ranked = []
    for child, reported in await route.cache.healthy_reports():
        if child.id in excluded:
            continue
        if new.target is not None and new.target not in zone_names(child):
            continue
        free = reported.free
        if aggregate_may_satisfy(remaining, reported.capabilities) and may_fit_zone(
            new.resources, free
        ):
            room = sum(free[key].sum for key in new.resources if key in free)
            ranked.append((-child.weight_offset, -room, child.id, child))
    return [child for *_, child in sorted(ranked, key=lambda entry: entry[:3])]
