"""`zones up`, `zones down`: a whole local deployment from one topology file.

The state dir (zones.node.launch.state_dir) holds everything a deployment has,
so a second `zones up` on it brings back the same zones with their data. Zones
the file marks external are not started: they are reached at their `url`.
`zones status` reads the live zones from zones.node.client.status.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from zones.node.columns import aligned_lines
from zones.node.launch import deploy
from zones.node.launch.checks import TopologyError
from zones.node.launch.databases import DatabaseError, create_missing_databases
from zones.node.launch.reconcile import reconcile
from zones.node.launch.state_dir import (
    load_secrets,
    read_topology_json,
    rewrite_topology_json,
    write_agent_spec,
    write_node_config,
    write_topology_json,
)
from zones.node.launch.topology import Topology, load_topology

START_TIMEOUT = 60.0
CONVERGE_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0


def say(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------- processes


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def recorded_pids(document: dict[str, Any]) -> list[int]:
    pids = [zone.get("pid") for zone in document["zones"].values()]
    pids.append(document.get("host_agent_pid"))
    return [pid for pid in pids if isinstance(pid, int)]


def stop_processes(pids: list[int]) -> int:
    """SIGTERM, then SIGKILL what is left after STOP_TIMEOUT; returns how many were running."""
    running = [pid for pid in pids if alive(pid)]
    for pid in running:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while any(alive(pid) for pid in running) and time.monotonic() < deadline:
        _reap()
        time.sleep(0.05)
    for pid in running:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    while any(alive(pid) for pid in running):
        _reap()
        time.sleep(0.05)
    return len(running)


def _reap() -> None:
    """Collect our own exited children so they do not linger as zombies."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def check_ports_free(topology: Topology) -> None:
    for zone in topology.started_here:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((zone.host, zone.port))
            except OSError as exc:
                raise TopologyError(
                    f"zone {zone.name!r}: port {zone.port} on {zone.host} is taken ({exc.strerror})"
                ) from exc


def spawn(arguments: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "zones", *arguments],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches `zones up`, which stops them in order
        )


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


async def wait_until_serving(
    topology: Topology, processes: dict[str, subprocess.Popen[bytes]], state_dir: Path
) -> None:
    pending = set(processes)
    deadline = time.monotonic() + START_TIMEOUT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
        while pending:
            for name in sorted(pending):
                if processes[name].poll() is not None:
                    tail = log_tail(state_dir / name / "zone.log")
                    raise deploy.DeployError(f"zone {name!r} did not start:\n{tail}")
                try:
                    async with http.get(f"{topology.zones[name].url}/healthz") as answer:
                        if answer.status == 200:
                            pending.discard(name)
                            say(f"  up: {name} at {topology.zones[name].url}")
                except (aiohttp.ClientError, TimeoutError):
                    pass
            if time.monotonic() > deadline:
                raise deploy.DeployError(
                    f"zones not serving after {START_TIMEOUT:.0f} s: {sorted(pending)}"
                )
            await asyncio.sleep(0.1)


# ---------------------------------------------------------------- commands


def up(topology_path: Path, state_dir: Path, detach: bool) -> int:
    try:
        topology = load_topology(topology_path)
        if any(alive(pid) for pid in _recorded_if_any(state_dir)):
            raise TopologyError(f"{state_dir}: a deployment is running here; `zones down` first")
        check_ports_free(topology)
        secrets = load_secrets(state_dir, topology)
        password = secrets["admin_password"]
        deploy.admin_logins(topology, password)  # an external zone without one: say so now
    except TopologyError as exc:
        print(f"zones: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    say(f"starting {len(topology.started_here)} zones from {topology_path} in {state_dir}")
    processes: dict[str, subprocess.Popen[bytes]] = {}
    agent: subprocess.Popen[bytes] | None = None
    try:
        asyncio.run(create_missing_databases(topology))
        for zone in topology.started_here:
            config = write_node_config(state_dir, topology, zone, password)
            processes[zone.name] = spawn(
                ["serve", "--config", str(config)], state_dir / zone.name / "zone.log"
            )
        pids = {name: process.pid for name, process in processes.items()}
        write_topology_json(state_dir, topology, password, pids, None)
        asyncio.run(wait_until_serving(topology, processes, state_dir))
        asyncio.run(_deploy(topology, secrets, password, converging=False))
        spec = write_agent_spec(state_dir, topology, secrets["host_agent"])
        if any(zone.hosts for zone in topology.zones.values()):
            agent = spawn(["host-agent", "--spec", str(spec)], state_dir / "host-agent.log")
        write_topology_json(state_dir, topology, password, pids, agent.pid if agent else None)
        rows = asyncio.run(_deploy(topology, secrets, password, converging=True))
    except (deploy.DeployError, DatabaseError, OSError) as exc:
        print(f"zones: {exc}", file=sys.stderr)
        stopped = [process.pid for process in processes.values()] + ([agent.pid] if agent else [])
        stop_processes(stopped)
        print("zones: stopped every zone this run started", file=sys.stderr)
        return 1
    print_table(rows)
    say(f"converged in {time.monotonic() - started:.1f} s; state in {state_dir}/topology.json")
    if detach:
        return 0
    return _stay_in_foreground(state_dir)


def _recorded_if_any(state_dir: Path) -> list[int]:
    try:
        return recorded_pids(read_topology_json(state_dir))
    except TopologyError:
        return []


async def _deploy(
    topology: Topology, secrets: dict[str, Any], password: str, converging: bool
) -> list[dict[str, Any]]:
    """Make the zones match the file (saying each change), or watch them converge."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        admins = await deploy.Admins.log_in(http, topology, password)
        if not converging:
            await reconcile(admins, topology, secrets, say)
            return []
        await deploy.converge(admins, topology, CONVERGE_TIMEOUT, say)
        return await deploy.zone_rows(admins, topology)


def _stay_in_foreground(state_dir: Path) -> int:
    stop = {"now": False}

    def request_stop(signum: int, frame: object) -> None:
        stop["now"] = True

    # Handlers first: a Ctrl-C right after the message must stop the zones, not kill this
    # process and leave them running (seen under load, with the tests in parallel).
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    say("running; Ctrl-C stops every zone")
    while not stop["now"]:
        time.sleep(0.2)
    return down(state_dir)


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = ("name", "url", "state", "children", "hosts")
    for line in aligned_lines(columns, [[str(row[key]) for key in columns] for row in rows]):
        say(line)


def down(state_dir: Path) -> int:
    try:
        document = read_topology_json(state_dir)
    except TopologyError as exc:
        print(f"zones: {exc}", file=sys.stderr)
        return 2
    stopped = stop_processes(recorded_pids(document))
    for zone in document["zones"].values():
        zone["pid"] = None  # a pid number may be reused by some other process later
    document["host_agent_pid"] = None
    rewrite_topology_json(state_dir, document)
    say(f"stopped {stopped} processes of {state_dir}")
    return 0
