"""The files of a deployment's state dir, written by `zones up` and read by the other commands.

    <state-dir>/topology.json     urls, admin credentials and pids (contract section 1)
    <state-dir>/secrets.json      the passwords the deployment made (mode 0600)
    <state-dir>/<zone>/node.toml  each zone's config; its database, keys and zone.log beside it
    <state-dir>/hosts.json        the simulated hosts, for `zones host-agent`

Every file that holds a secret is readable by its owner only.
"""

from __future__ import annotations

import json
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
        path.write_text(json.dumps(made, indent=2))
        path.chmod(0o600)
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
    ]
    path = directory / "node.toml"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def write_agent_spec(state_dir: Path, topology: Topology, password: str) -> Path:
    zones = [
        {
            "url": zone.url,
            "username": deploy.HOST_AGENT_USER,
            "password": password,
            "hosts": [
                {"name": host.name, "capabilities": host.capabilities, "inventory": host.inventory}
                for host in zone.hosts
            ],
        }
        for zone in topology.zones.values()
        if zone.hosts
    ]
    path = state_dir / "hosts.json"
    path.write_text(json.dumps({"ttl": HOST_TTL, "zones": zones}, indent=2))
    path.chmod(0o600)
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
    (state_dir / "topology.json").write_text(json.dumps(document, indent=2))


def read_topology_json(state_dir: Path) -> dict[str, Any]:
    path = state_dir / "topology.json"
    if not path.exists():
        raise TopologyError(f"{state_dir}: no deployment here (no topology.json)")
    document: dict[str, Any] = json.loads(path.read_text())
    return document
