"""The files of a deployment's state dir, written by `zones up` and read by the other commands.

    <state-dir>/topology.json     urls, admin credentials and pids (contract section 1)
    <state-dir>/secrets.json      the passwords the deployment made (mode 0600)
    <state-dir>/<zone>/node.toml  each zone's config; its database, keys and zone.log beside it
    <state-dir>/hosts.json        the simulated hosts, for `zones host-agent`

Every file that holds a secret is readable by its owner only.
"""

from __future__ import annotations

import json
import os
import secrets as random_secrets
from pathlib import Path
from typing import Any

from zones.node.launch import deploy
from zones.node.launch.checks import TopologyError
from zones.node.launch.topology import Topology, ZoneSpec

HOST_TTL = 15.0


def load_secrets(state_dir: Path, topology: Topology, keep: bool = True) -> dict[str, Any]:
    """The passwords of this deployment: kept from an earlier run, made where missing (and
    written back unless not `keep`)."""
    path = state_dir / "secrets.json"
    kept: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    service: dict[str, str] = dict(kept.get("service", {}))
    for parent, child in topology.edges():
        service.setdefault(f"{parent}>{child}", random_secrets.token_urlsafe(16))
    made = {
        "admin_password": topology.admin_password
        or kept.get("admin_password")
        or random_secrets.token_urlsafe(16),
        "host_agent": kept.get("host_agent") or random_secrets.token_urlsafe(16),
        "service": service,
    }
    if keep:
        state_dir.mkdir(parents=True, exist_ok=True)
        write_private(path, json.dumps(made, indent=2))
    return made


def write_node_config(state_dir: Path, topology: Topology, zone: ZoneSpec, password: str) -> Path:
    directory = state_dir / zone.name
    directory.mkdir(parents=True, exist_ok=True)
    trusted = [topology.zones[root].url for root in topology.roots_above(zone.name)]
    interval = topology.poll_interval
    lines = [
        "[zone]",
        f"name = {json.dumps(zone.name)}",
        f'listen = "{zone.host}:{zone.port}"',
        f"url = {json.dumps(zone.url)}",
        f"workers = {zone.workers}",
        *([] if zone.database is None else [f"database = {json.dumps(zone.database)}"]),
        "capabilities = { "
        + ", ".join(f"{key} = {json.dumps(value)}" for key, value in zone.capabilities.items())
        + " }",
        "",
        "[auth]",
        f"admin_password = {json.dumps(password)}",
        f"trusted_issuers = {json.dumps(trusted)}",
        "",
        "[poll]",
        f"interval = {interval}",
        f"timeout = {min(2.0, max(0.5, interval))}",
        "failures_before_offline = 3",
        *router_section(topology),
    ]
    path = directory / "node.toml"
    write_private(path, "\n".join(lines) + "\n")
    return path


def router_section(topology: Topology) -> list[str]:
    if topology.allowed_children is None:
        return []
    return ["", "[router]", f"allowed_children = {json.dumps(list(topology.allowed_children))}"]


def write_agent_spec(state_dir: Path, topology: Topology, password: str) -> Path:
    zones = [
        {
            "url": zone.url,
            "username": deploy.HOST_AGENT_USER,
            "password": password,
            "hosts": [
                {
                    "name": host.name,
                    "capabilities": host.capabilities,
                    "inventory": host.inventory,
                    "reserved": list(host.reserved),
                }
                for host in zone.hosts
            ],
        }
        for zone in topology.zones.values()
        if zone.hosts
    ]
    path = state_dir / "hosts.json"
    write_private(path, json.dumps({"ttl": HOST_TTL, "zones": zones}, indent=2))
    return path


def write_topology_json(
    state_dir: Path, topology: Topology, password: str, pids: dict[str, int], agent: int | None
) -> None:
    roots = set(topology.roots)
    logins = deploy.admin_logins(topology, password)
    document = {
        "zones": {
            name: {
                "url": zone.url,
                "admin_username": logins[name][0],
                "admin_password": logins[name][1],
                "pid": pids.get(name),
                "roots": name in roots,
                "children": list(zone.children),
                "external": zone.external,
            }
            for name, zone in topology.zones.items()
        },
        "host_agent_pid": agent,
    }
    rewrite_topology_json(state_dir, document)


def rewrite_topology_json(state_dir: Path, document: dict[str, Any]) -> None:
    """topology.json holds every admin's password: its owner's only."""
    write_private(state_dir / "topology.json", json.dumps(document, indent=2))


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, a file readable by its owner only from the moment it exists
    (an older file of wider mode is narrowed before it is written)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def read_topology_json(state_dir: Path) -> dict[str, Any]:
    path = state_dir / "topology.json"
    if not path.exists():
        raise TopologyError(f"{state_dir}: no deployment here (no topology.json)")
    document: dict[str, Any] = json.loads(path.read_text())
    return document
