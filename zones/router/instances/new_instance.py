"""A new instance as it travels down the tree: what it asks for and what is settled above."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from zones.capabilities.matching import Condition, host_satisfies
from zones.capabilities.values import CapabilityValue
from zones.router.children.forwarding import FRESH_HEADER, MOVING_HEADER, TARGET_HEADER


@dataclass(frozen=True)
class NewInstance:
    id: str
    name: str
    client: str
    requirements: dict[str, Any]
    resources: dict[str, float]
    conditions: list[Condition]
    fingerprint: str
    settled: frozenset[str] = frozenset()
    # A moving instance's new copy keeps its creation time (and so its place in lists).
    created_at: datetime | None = None
    # Only inside the zone of this name (a move to a named zone); None: anywhere.
    target: str | None = None
    # The id was made for this request where it entered, and no zone has been sent it yet
    # (FRESH_HEADER): no earlier attempt can exist, so none is looked for.
    fresh: bool = False

    @property
    def open_conditions(self) -> list[Condition]:
        """The conditions the zones above have not settled already."""
        return [condition for condition in self.conditions if condition.key not in self.settled]

    def settled_here(self, static: Mapping[str, CapabilityValue]) -> frozenset[str]:
        """What is settled for everything below this zone: above, or by its static capabilities
        (a key they define but contradict is not settled: it rules the zone out instead)."""
        met = {c.key for c in self.open_conditions if host_satisfies([c], static)}
        return self.settled | met

    def inside(self, zone_name: str) -> NewInstance:
        """As seen inside `zone_name`: a target of that name is reached there."""
        return replace(self, target=None) if self.target == zone_name else self

    def routing_headers(self) -> dict[str, str]:
        headers = {}
        if self.target is not None:
            headers[TARGET_HEADER] = self.target
        if self.created_at is not None:
            headers[MOVING_HEADER] = f"{self.client},{self.created_at.isoformat()}"
        if self.fresh:
            headers[FRESH_HEADER] = "1"
        return headers

    def body(self) -> dict[str, Any]:
        return {
            "instance": {
                "id": self.id,
                "name": self.name,
                "requirements": self.requirements,
                "resources": self.resources,
            }
        }
