"""Topology files: a whole deployment of zones described in one TOML file, checked before use.

    [defaults]
    host = "127.0.0.1"; base_port = 8100; poll_interval = 2.0; admin_password = "..."
    database = "postgresql+asyncpg://user@host:5432/"  # each zone: a database of its name
    admin_username = "admin"  # how `zones apply` logs in to external zones
    [[zone]]  name, children, capabilities, port, database, workers,
              [[zone.hosts]] (count | names, ...)
    [[zone]]  name, children, external = true, url, admin_username, admin_password
    [[user]]  name, password, client, roles

A child is a name, or a table `{ name = "dc1", weight_offset = 2.0, enabled =
true }` saying how its parent places into it. A zone listed under no parent is
a root; one listed under two parents is shared. An external zone already runs
elsewhere at its `url`: `zones up` does not start it, and both `zones up` and
`zones apply` reach it through its public API only. `load_topology` refuses a
file with an unknown child, a zone defined twice, a cycle, a bad name, two
zones on one port, or malformed TOML, with one message that names the zone (or
the line).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zones.capabilities.values import CapabilityValue, parse_capabilities
from zones.node.fields import (
    ACCOUNT_NAME_PATTERN,
    ZONE_NAME_PATTERN,
    check_allowed_child,
    normalize_http_url,
)
from zones.node.launch.checks import (
    TopologyError,
)
from zones.node.launch.checks import (
    account as _account,
)
from zones.node.launch.checks import (
    list_of as _list,
)
from zones.node.launch.checks import (
    number as _number,
)
from zones.node.launch.checks import (
    only_keys as _only_keys,
)
from zones.node.launch.checks import (
    port as _port,
)
from zones.node.launch.checks import (
    table as _table,
)
from zones.node.launch.checks import (
    text as _text,
)
from zones.node.launch.simulated import SimulatedHost, simulated_hosts


@dataclass(frozen=True)
class Link:
    """How a parent places into one of its children (its registration's settings)."""

    weight_offset: float = 0.0
    enabled: bool = True


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
    links: dict[str, Link] = field(default_factory=dict)  # by child; absent: Link()
    external_url: str | None = None  # set: the zone runs elsewhere (external = true)
    admin_username: str | None = None  # external zones: how to log in, else [defaults]
    admin_password: str | None = None

    @property
    def external(self) -> bool:
        return self.external_url is not None

    @property
    def url(self) -> str:
        return self.external_url or f"http://{self.host}:{self.port}"

    def link(self, child: str) -> Link:
        return self.links.get(child, Link())


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
    admin_username: str = "admin"
    # Every zone's `[router] allowed_children` (None: the node's default, anywhere).
    allowed_children: tuple[str, ...] | None = None

    @property
    def started_here(self) -> list[ZoneSpec]:
        """The zones `zones up` starts: every zone but the external ones."""
        return [zone for zone in self.zones.values() if not zone.external]

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
        {
            "host",
            "base_port",
            "poll_interval",
            "admin_password",
            "admin_username",
            "database",
            "allowed_children",
        },
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
    admin_username = _account("defaults.admin_username", defaults.get("admin_username", "admin"))
    allowed_children = _allowed_children(defaults.get("allowed_children"))
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
        admin_username=admin_username,
        allowed_children=allowed_children,
    )
    _check_ports(topology)
    _check_acyclic(topology)
    return topology


def _allowed_children(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    rules = _list("defaults.allowed_children", value)
    try:
        return tuple(check_allowed_child(_text("defaults.allowed_children", r)) for r in rules)
    except ValueError as exc:
        raise TopologyError(f"defaults.allowed_children: {exc}") from exc


def _zone(
    index: int, entry: dict[str, Any], host: str, base_port: int, server: str | None
) -> ZoneSpec:
    _only_keys(f"zone #{index + 1}", entry, STARTED_KEYS | EXTERNAL_KEYS)
    name = entry.get("name")
    if not isinstance(name, str) or not re.fullmatch(ZONE_NAME_PATTERN, name):
        raise TopologyError(
            f"zone #{index + 1}: name {name!r} must match {ZONE_NAME_PATTERN} "
            "(lower-case letters, digits and dashes)"
        )
    where = f"zone {name!r}"
    links = _links(where, _list(f"{where}: children", entry.get("children", [])))
    if entry.get("external", False) is not False:
        return _external_zone(where, name, entry, links)
    for key in sorted(EXTERNAL_KEYS & set(entry)):
        raise TopologyError(
            f"{where}: {key!r} is for a zone that runs elsewhere: set external = true"
        )
    try:
        capabilities = parse_capabilities(
            _table(f"{where}: capabilities", entry.get("capabilities", {}))
        )
    except ValueError as exc:
        raise TopologyError(f"{where}: {exc}") from exc
    port = _port(f"{where}: port", entry.get("port", base_port + index))
    groups = _list(f"{where}: hosts", entry.get("hosts", []))
    hosts = tuple(host_ for group in groups for host_ in simulated_hosts(where, name, group))
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
    return ZoneSpec(
        name, host, port, tuple(links), capabilities, hosts, database, workers, links=links
    )


STARTED_KEYS = {"name", "children", "capabilities", "hosts", "port", "database", "workers"}
EXTERNAL_KEYS = {"external", "url", "admin_username", "admin_password"}


def _external_zone(
    where: str, name: str, entry: dict[str, Any], links: dict[str, Link]
) -> ZoneSpec:
    """A zone that already runs elsewhere: where it is and how to log in, nothing to start."""
    if entry["external"] is not True:
        raise TopologyError(f"{where}: external must be true or false")
    for key in sorted((STARTED_KEYS - {"name", "children"}) & set(entry)):
        raise TopologyError(
            f"{where}: {key!r} does not apply to an external zone (it is configured where it runs)"
        )
    if "url" not in entry:
        raise TopologyError(f"{where}: an external zone needs its url")
    try:
        url = normalize_http_url(_text(f"{where}: url", entry["url"]))
    except ValueError as exc:
        raise TopologyError(f"{where}: url {exc}") from exc
    username = entry.get("admin_username")
    password = entry.get("admin_password")
    return ZoneSpec(
        name,
        host="",
        port=0,
        children=tuple(links),
        capabilities={},
        hosts=(),
        links=links,
        external_url=url,
        admin_username=None if username is None else _account(f"{where}: admin_username", username),
        admin_password=None if password is None else _text(f"{where}: admin_password", password),
    )


def _links(where: str, entries: list[Any]) -> dict[str, Link]:
    """Children in the file's order: names, or tables with their link's settings."""
    links: dict[str, Link] = {}
    for entry in entries:
        child: Any
        if isinstance(entry, str):
            child, link = entry, Link()
        elif isinstance(entry, dict):
            _only_keys(f"{where}: children", entry, {"name", "weight_offset", "enabled"})
            child = entry.get("name")
            weight = entry.get("weight_offset", 0.0)
            enabled = entry.get("enabled", True)
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise TopologyError(f"{where}: children: weight_offset must be a number")
            if not -1e6 <= weight <= 1e6:
                raise TopologyError(f"{where}: children: weight_offset must be within ±10^6")
            if not isinstance(enabled, bool):
                raise TopologyError(f"{where}: children: enabled must be true or false")
            link = Link(float(weight), enabled)
        else:
            child = None
        if not isinstance(child, str):
            raise TopologyError(f"{where}: children must be zone names or {{ name = ... }}")
        if child in links:
            raise TopologyError(f"{where}: child {child!r} is listed twice")
        links[child] = link
    return links


def _postgresql_server(where: str, value: Any) -> str:
    """`postgresql+asyncpg://user@host:5432/`: a server, each zone's database named after it."""
    text = _text(where, value)
    if not text.startswith("postgresql+asyncpg://") or not text.endswith("/"):
        raise TopologyError(
            f"{where}: must be a PostgreSQL server ending in /, for example"
            ' "postgresql+asyncpg://user@127.0.0.1:5432/" (each zone gets a database of its name)'
        )
    return text


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
    for zone in topology.started_here:
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
