"""Topology files: a whole deployment of zones described in one TOML file, checked before use.

    [defaults]
    host = "127.0.0.1"; base_port = 8100; poll_interval = 2.0; admin_password = "..."
    database = "postgresql+asyncpg://user@host:5432/"  # each zone: a database of its name
    [[zone]]  name, children, capabilities, port, database, workers,
              [[zone.hosts]] (count | names, ...)
    [[user]]  name, password, client, roles

A zone listed under no parent is a root; one listed under two parents is
shared. `load_topology` refuses a file with an unknown child, a zone defined
twice, a cycle, a bad name, two zones on one port, or malformed TOML, with
one message that names the zone (or the line).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zones.capabilities.values import CapabilityValue, check_key, parse_capabilities
from zones.errors import ConfigError
from zones.node.fields import ACCOUNT_NAME_PATTERN, ZONE_NAME_PATTERN

MAX_HOSTS_PER_GROUP = 1000


class TopologyError(ConfigError):
    """A topology that cannot be brought up; the message names the zone or the line."""


@dataclass(frozen=True)
class SimulatedHost:
    name: str
    capabilities: dict[str, CapabilityValue]
    inventory: dict[str, float]


@dataclass(frozen=True)
class ZoneSpec:
    name: str
    host: str
    port: int
    children: tuple[str, ...]
    capabilities: dict[str, CapabilityValue]
    hosts: tuple[SimulatedHost, ...]
    database: str | None = None  # None: SQLite beside the zone's config
    workers: int = 1

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class UserSpec:
    name: str
    password: str
    client: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Topology:
    zones: dict[str, ZoneSpec]
    users: tuple[UserSpec, ...]
    poll_interval: float
    admin_password: str | None
    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def roots(self) -> list[str]:
        return [name for name in self.zones if not self.parents.get(name)]

    def subtree(self, name: str) -> list[str]:
        """`name` and every zone below it, each once, parents before children."""
        seen: list[str] = []
        pending = [name]
        while pending:
            current = pending.pop(0)
            if current not in seen:
                seen.append(current)
                pending.extend(self.zones[current].children)
        return seen

    def roots_above(self, name: str) -> list[str]:
        """The roots whose subtree holds `name` (not `name` itself)."""
        return [root for root in self.roots if root != name and name in self.subtree(root)]

    def edges(self) -> list[tuple[str, str]]:
        return [(zone.name, child) for zone in self.zones.values() for child in zone.children]


def load_topology(path: Path) -> Topology:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TopologyError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TopologyError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return parse_topology(raw)
    except (TopologyError, ValueError, TypeError) as exc:
        raise TopologyError(f"{path}: {exc}") from exc


def parse_topology(raw: dict[str, Any]) -> Topology:
    _only_keys("the file", raw, {"defaults", "zone", "user"})
    defaults = _table("defaults", raw.get("defaults", {}))
    _only_keys(
        "[defaults]",
        defaults,
        {"host", "base_port", "poll_interval", "admin_password", "database"},
    )
    database = defaults.get("database")
    if database is not None:
        database = _postgresql_server("defaults.database", database)
    host = _text("defaults.host", defaults.get("host", "127.0.0.1"))
    base_port = _port("defaults.base_port", defaults.get("base_port", 8100))
    poll_interval = _number("defaults.poll_interval", defaults.get("poll_interval", 2.0))
    if poll_interval <= 0:
        raise TopologyError("defaults.poll_interval: must be above 0")
    admin_password = defaults.get("admin_password")
    if admin_password is not None:
        admin_password = _text("defaults.admin_password", admin_password)
    entries = raw.get("zone", [])
    if not isinstance(entries, list) or not entries:
        raise TopologyError("define at least one [[zone]]")
    zones: dict[str, ZoneSpec] = {}
    for index, entry in enumerate(entries):
        spec = _zone(index, _table(f"zone #{index + 1}", entry), host, base_port, database)
        if spec.name in zones:
            raise TopologyError(f"zone {spec.name!r} is defined twice")
        zones[spec.name] = spec
    topology = Topology(
        zones=zones,
        users=tuple(_user(entry) for entry in _list("user", raw.get("user", []))),
        poll_interval=poll_interval,
        admin_password=admin_password,
        parents=_parents(zones),
    )
    _check_ports(topology)
    _check_acyclic(topology)
    return topology


def _zone(
    index: int, entry: dict[str, Any], host: str, base_port: int, server: str | None
) -> ZoneSpec:
    allowed = {"name", "children", "capabilities", "hosts", "port", "database", "workers"}
    _only_keys(f"zone #{index + 1}", entry, allowed)
    name = entry.get("name")
    if not isinstance(name, str) or not re.fullmatch(ZONE_NAME_PATTERN, name):
        raise TopologyError(
            f"zone #{index + 1}: name {name!r} must match {ZONE_NAME_PATTERN} "
            "(lower-case letters, digits and dashes)"
        )
    where = f"zone {name!r}"
    children = tuple(_list(f"{where}: children", entry.get("children", [])))
    if not all(isinstance(child, str) for child in children):
        raise TopologyError(f"{where}: children must be zone names")
    try:
        capabilities = parse_capabilities(
            _table(f"{where}: capabilities", entry.get("capabilities", {}))
        )
    except ValueError as exc:
        raise TopologyError(f"{where}: {exc}") from exc
    port = _port(f"{where}: port", entry.get("port", base_port + index))
    groups = _list(f"{where}: hosts", entry.get("hosts", []))
    hosts = tuple(host_ for group in groups for host_ in _hosts(where, name, group))
    names = [host_.name for host_ in hosts]
    if len(set(names)) != len(names):
        raise TopologyError(f"{where}: two simulated hosts share a name")
    database = entry.get("database")
    if database is not None:
        database = _text(f"{where}: database", database)
        if not database.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise TopologyError(
                f"{where}: database must start with postgresql+asyncpg:// or sqlite+aiosqlite://"
            )
    elif server is not None:
        database = server + name  # the zone's own database on the server of [defaults]
    workers = entry.get("workers", 1)
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 64:
        raise TopologyError(f"{where}: workers must be a whole number from 1 to 64")
    if workers > 1 and not (database or "").startswith("postgresql+"):
        raise TopologyError(f"{where}: workers = {workers} needs a PostgreSQL database")
    return ZoneSpec(name, host, port, children, capabilities, hosts, database, workers)


def _postgresql_server(where: str, value: Any) -> str:
    """`postgresql+asyncpg://user@host:5432/`: a server, each zone's database named after it."""
    text = _text(where, value)
    if not text.startswith("postgresql+asyncpg://") or not text.endswith("/"):
        raise TopologyError(
            f"{where}: must be a PostgreSQL server ending in /, for example"
            ' "postgresql+asyncpg://user@127.0.0.1:5432/" (each zone gets a database of its name)'
        )
    return text


def _hosts(where: str, zone: str, group: Any) -> list[SimulatedHost]:
    group = _table(f"{where}: hosts", group)
    _only_keys(f"{where}: hosts", group, {"count", "names", "capabilities", "inventory"})
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
        _text(f"{where}: hosts.names", host_name)
        for host_name in _list(f"{where}: hosts.names", names)
    ]
    try:
        capabilities = parse_capabilities(
            _table(f"{where}: hosts.capabilities", group.get("capabilities", {}))
        )
        inventory = {
            check_key(key): _number(f"{where}: hosts.inventory.{key}", amount)
            for key, amount in _table(
                f"{where}: hosts.inventory", group.get("inventory", {})
            ).items()
        }
    except ValueError as exc:
        raise TopologyError(f"{where}: hosts: {exc}") from exc
    return [SimulatedHost(host_name, capabilities, inventory) for host_name in names]


def _user(entry: Any) -> UserSpec:
    entry = _table("user", entry)
    _only_keys("[[user]]", entry, {"name", "password", "client", "roles"})
    name = entry.get("name")
    if not isinstance(name, str) or not re.fullmatch(ACCOUNT_NAME_PATTERN, name):
        raise TopologyError(f"user {name!r}: name must match {ACCOUNT_NAME_PATTERN}")
    client = entry.get("client")
    if not isinstance(client, str) or not re.fullmatch(ACCOUNT_NAME_PATTERN, client):
        raise TopologyError(f"user {name!r}: client must match {ACCOUNT_NAME_PATTERN}")
    roles = tuple(_list(f"user {name!r}: roles", entry.get("roles", ["member"])))
    return UserSpec(name, _text(f"user {name!r}: password", entry.get("password")), client, roles)


def _parents(zones: dict[str, ZoneSpec]) -> dict[str, tuple[str, ...]]:
    parents: dict[str, list[str]] = {name: [] for name in zones}
    for zone in zones.values():
        for child in zone.children:
            if child not in zones:
                raise TopologyError(f"zone {zone.name!r} names an unknown child {child!r}")
            if child == zone.name:
                raise TopologyError(f"zone {zone.name!r} lists itself as its own child")
            parents[child].append(zone.name)
    return {name: tuple(found) for name, found in parents.items()}


def _check_ports(topology: Topology) -> None:
    taken: dict[tuple[str, int], str] = {}
    for zone in topology.zones.values():
        other = taken.setdefault((zone.host, zone.port), zone.name)
        if other != zone.name:
            raise TopologyError(f"zones {other!r} and {zone.name!r} both use port {zone.port}")


def _check_acyclic(topology: Topology) -> None:
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "open":
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise TopologyError(f"zones form a cycle: {cycle}")
        state[name] = "open"
        for child in topology.zones[name].children:
            visit(child, [*path, name])
        state[name] = "done"

    for name in topology.zones:
        visit(name, [])
    if not topology.roots:
        raise TopologyError("every zone is some zone's child: there is no root")


def _only_keys(where: str, table: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise TopologyError(f"{where}: unknown key {unknown[0]!r}")


def _table(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TopologyError(f"{where}: must be a table")
    return value


def _list(where: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TopologyError(f"{where}: must be a list")
    return value


def _text(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TopologyError(f"{where}: must be a non-empty string")
    return value


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TopologyError(f"{where}: must be a number of at least 0")
    return float(value)


def _port(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise TopologyError(f"{where}: must be a port number from 1 to 65535")
    return value
