"""The hosts a topology file simulates: `[[zone.hosts]]` groups, each a count or names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zones.capabilities.reserved import parse_reserved
from zones.capabilities.values import CapabilityValue, check_key, parse_capabilities
from zones.node.launch.checks import TopologyError, list_of, number, only_keys, table, text

MAX_HOSTS_PER_GROUP = 1000


@dataclass(frozen=True)
class SimulatedHost:
    name: str
    capabilities: dict[str, CapabilityValue]
    inventory: dict[str, float]
    reserved: tuple[str, ...] = ()  # capability keys it keeps itself for (its heartbeats say)


def simulated_hosts(where: str, zone: str, group: Any) -> list[SimulatedHost]:
    group = table(f"{where}: hosts", group)
    only_keys(f"{where}: hosts", group, {"count", "names", "capabilities", "inventory", "reserved"})
    names = group.get("names")
    if names is None:
        count = group.get("count", 1)
        if (
            not isinstance(count, int)
            or isinstance(count, bool)
            or not 0 < count <= MAX_HOSTS_PER_GROUP
        ):
            raise TopologyError(f"{where}: hosts.count must be 1 to {MAX_HOSTS_PER_GROUP}")
        names = [f"{zone}-host-{number}" for number in range(1, count + 1)]
    names = [
        text(f"{where}: hosts.names", host_name)
        for host_name in list_of(f"{where}: hosts.names", names)
    ]
    try:
        capabilities = parse_capabilities(
            table(f"{where}: hosts.capabilities", group.get("capabilities", {}))
        )
        inventory = {
            check_key(key): number(f"{where}: hosts.inventory.{key}", amount)
            for key, amount in table(
                f"{where}: hosts.inventory", group.get("inventory", {})
            ).items()
        }
        reserved = parse_reserved(group.get("reserved", []))
    except ValueError as exc:
        raise TopologyError(f"{where}: hosts: {exc}") from exc
    missing = sorted(set(reserved) - set(capabilities))
    if missing:
        raise TopologyError(
            f"{where}: hosts.reserved: {', '.join(missing)}: not among the hosts' capabilities"
        )
    return [SimulatedHost(host_name, capabilities, inventory, reserved) for host_name in names]
