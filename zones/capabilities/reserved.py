"""Reserved capabilities: room kept for the work that asks for it, like a Kubernetes taint.

A host (`"reserved"` in its heartbeat) or a zone (`[zone] reserved`) names
capability keys it keeps itself for. An instance may use that room only when
its requirements name every one of those keys (any operator: `{"gpu_count":
{"ge": 1}}` names `gpu_count`), and the keys of a zone and of a host below it
add up, so reserving is the same whether it is written on the zone or on each
of its hosts. An instance that names none of them is an ordinary one: it goes
only where open room is.

A zone's aggregate keeps its open room apart (`Room`: what no reserved key
keeps), and names every key reserved in its subtree, so a parent sends an
ordinary create only where open room exists. A create that names a reserved
key may use all the room; whether the reservation of the host it lands on is
met is settled on that host.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zones.capabilities.aggregate import (
    Aggregate,
    FreeSummary,
    aggregate_from_json,
    aggregate_to_json,
    free_from_json,
    free_to_json,
    merge,
    merge_free,
)
from zones.capabilities.values import check_key

MAX_RESERVED = 32


def parse_reserved(raw: Any) -> tuple[str, ...]:
    """Reserved keys as given in a heartbeat or a config: a list of at most `MAX_RESERVED`
    capability keys, returned sorted and without repeats; ValueError saying what is wrong."""
    if not isinstance(raw, list | tuple):
        raise ValueError("must be a list of capability keys")
    if len(raw) > MAX_RESERVED:
        raise ValueError(f"at most {MAX_RESERVED} reserved keys are allowed")
    return tuple(sorted({check_key(key) for key in raw}))


def may_use(reserved: Iterable[str], named: frozenset[str]) -> bool:
    """Whether work whose requirements name `named` may use room that keeps `reserved`."""
    return all(key in named for key in reserved)


@dataclass(frozen=True)
class Room:
    """Capabilities and free inventory of some hosts, and how many they are."""

    capabilities: Aggregate = field(default_factory=dict)
    free: FreeSummary = field(default_factory=dict)
    hosts: int = 0

    def merge(self, other: Room) -> Room:
        return Room(
            merge(self.capabilities, other.capabilities),
            merge_free(self.free, other.free),
            self.hosts + other.hosts,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "capabilities": aggregate_to_json(self.capabilities),
            "free": free_to_json(self.free),
            "hosts": self.hosts,
        }

    @classmethod
    def from_json(cls, raw: Any) -> Room:
        """Read a room a child sent; ValueError when it is not one."""
        if not isinstance(raw, Mapping):
            raise ValueError("a room must be an object")
        hosts = raw.get("hosts", 0)
        if not isinstance(hosts, int) or isinstance(hosts, bool) or hosts < 0:
            raise ValueError("a room's hosts must be a whole number of at least 0")
        return cls(
            aggregate_from_json(raw.get("capabilities", {})),
            free_from_json(raw.get("free", {})),
            hosts,
        )


def reserved_from_json(raw: Any) -> frozenset[str]:
    """The reserved keys a child named (no limit on how many: they add up in a subtree)."""
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise ValueError("reserved must be a list of capability keys")
    return frozenset(check_key(key) for key in raw)


def names_reserved(named: frozenset[str], reserved: frozenset[str]) -> bool:
    """Whether work naming `named` may reach reserved room among `reserved` (it names one of
    the keys): such work is matched against all the room, ordinary work only the open."""
    return not named.isdisjoint(reserved)
