"""`zones apply TOPOLOGY.toml [--dry-run]`: make running zones match a topology file.

For zones that already run, here or elsewhere: external ones at their `url`,
and the ones an earlier `zones up` started from the same state dir (whose
passwords it holds). Everything goes through the public API
(zones.node.launch.reconcile says what); each change is printed, a run that
finds nothing to change prints `no changes`, and `--dry-run` prints the plan
and changes nothing, not even the state dir. Then it waits until every link
of the file is online (zones.node.launch.deploy.converge) and prints the zones.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import aiohttp

from zones.node.launch import deploy
from zones.node.launch.checks import TopologyError
from zones.node.launch.launcher import print_table, say
from zones.node.launch.reconcile import reconcile
from zones.node.launch.state_dir import load_secrets
from zones.node.launch.topology import Topology, load_topology

CONVERGE_TIMEOUT = 60.0


def apply(topology_path: Path, state_dir: Path, dry_run: bool) -> int:
    try:
        topology = load_topology(topology_path)
        secrets = load_secrets(state_dir, topology, keep=not dry_run)
        deploy.admin_logins(topology, secrets["admin_password"])
    except TopologyError as exc:
        print(f"zones: {exc}", file=sys.stderr)
        return 2
    try:
        rows = asyncio.run(_apply(topology, secrets, dry_run))
    except deploy.DeployError as exc:
        print(f"zones: {exc}", file=sys.stderr)
        return 1
    if rows:
        print_table(rows)
    return 0


async def _apply(
    topology: Topology, secrets: dict[str, Any], dry_run: bool
) -> list[dict[str, Any]]:
    """The changes made (or planned), then the zones' table once every link is online."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        admins = await deploy.Admins.log_in(http, topology, secrets["admin_password"])
        changes = await reconcile(admins, topology, secrets, say, dry_run=dry_run)
        if not changes:
            say("no changes")
        elif dry_run:
            say(f"{len(changes)} changes planned; none made (--dry-run)")
            return []
        else:
            say(f"{len(changes)} changes made")
        await deploy.converge(admins, topology, CONVERGE_TIMEOUT, say)
        return await deploy.zone_rows(admins, topology)
