"""What differs between a topology file and the zones running it, and the changes that fix it.

`plan` reads every zone of the file through its public API (its users, and a
parent's registered children) and lists what would make the deployment match
the file: the service account each parent logs in to each child with, a host
account where the file simulates hosts, the file's users at every root, and
each parent's registration of each child with the file's `weight_offset` and
`enabled`. An account that exists but does not log in with the deployment's
password, or has another client or other roles, is made again; a registration
with other settings, another user name, credentials its child refuses, or the
child's old URL is changed in place. Planning changes nothing. Nothing the file
does not name is removed: a deployment may hold more than the file describes.

`carry_out` makes the changes, every account before any registration (a
zone-add logs in to the child first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zones.node.launch.deploy import HOST_AGENT_USER, Admins, service_user
from zones.node.launch.topology import Topology, UserSpec

Step = tuple[str, str, Any, tuple[int, ...]]  # method, path, body, the statuses expected


@dataclass(frozen=True)
class Change:
    """One change at one zone: what it does, in words and as the calls that do it."""

    zone: str
    says: str
    steps: tuple[Step, ...]
    registers: bool = False  # a parent's registration: made once every account is there

    def line(self) -> str:
        return f"{self.zone}: {self.says}"


def _user_body(user: UserSpec) -> dict[str, Any]:
    fields = {"name": user.name, "password": user.password, "client": user.client}
    return {"user": {**fields, "roles": list(user.roles)}}


def wanted_users(topology: Topology, secrets: dict[str, Any]) -> dict[str, list[UserSpec]]:
    """The accounts the file implies, by zone."""
    wanted: dict[str, list[UserSpec]] = {name: [] for name in topology.zones}
    for parent, child in topology.edges():
        password = secrets["service"][f"{parent}>{child}"]
        wanted[child].append(UserSpec(service_user(parent), password, "zones", ("service",)))
    for zone in topology.zones.values():
        if zone.hosts:
            wanted[zone.name].append(
                UserSpec(HOST_AGENT_USER, secrets["host_agent"], "zones", ("host",))
            )
    for root in topology.roots:
        for user in topology.users:
            roles = tuple(sorted(user.roles))
            wanted[root].append(UserSpec(user.name, user.password, user.client, roles))
    return wanted


async def plan(admins: Admins, topology: Topology, secrets: dict[str, Any]) -> list[Change]:
    """Every change the deployment needs to match the file, accounts first."""
    wanted = wanted_users(topology, secrets)
    account_changes = await asyncio.gather(
        *(_account_changes(admins, zone, users) for zone, users in wanted.items())
    )
    accounts = [change for changes in account_changes for change in changes]
    remade = {(change.zone, change.steps[-1][2]["user"]["name"]) for change in accounts}
    parents = [zone for zone in topology.zones.values() if zone.children]
    registrations = await asyncio.gather(
        *(_registration_changes(admins, topology, secrets, zone.name, remade) for zone in parents)
    )
    return accounts + [change for changes in registrations for change in changes]


async def carry_out(admins: Admins, changes: list[Change]) -> None:
    """Make the changes: every account at once, then every registration at once."""

    async def make(change: Change) -> None:
        for method, path, body, expect in change.steps:
            await admins.call(change.zone, method, path, body, expect=expect)

    for registering in (False, True):
        await asyncio.gather(*(make(c) for c in changes if c.registers is registering))


async def reconcile(
    admins: Admins,
    topology: Topology,
    secrets: dict[str, Any],
    report: Callable[[str], None],
    dry_run: bool = False,
) -> list[Change]:
    """Plan, say each change, and (unless `dry_run`) make them; the changes."""
    changes = await plan(admins, topology, secrets)
    for change in changes:
        report(f"  {'would ' if dry_run else ''}{change.line()}")
    if not dry_run:
        await carry_out(admins, changes)
    return changes


async def _account_changes(admins: Admins, zone: str, users: list[UserSpec]) -> list[Change]:
    if not users:
        return []
    listed = await admins.call(zone, "GET", "/users")
    present = {user["name"]: user for user in listed["users"]}
    checks = await asyncio.gather(*(_account_change(admins, zone, u, present) for u in users))
    return [change for change in checks if change is not None]


async def _account_change(
    admins: Admins, zone: str, user: UserSpec, present: dict[str, Any]
) -> Change | None:
    create: Step = ("POST", "/users", _user_body(user), (201,))
    found = present.get(user.name)
    if found is None:
        roles = ", ".join(user.roles)
        return Change(
            zone, f"create user {user.name} (client {user.client}, roles {roles})", (create,)
        )
    differences = []
    if found["client"] != user.client:
        differences.append(f"client {found['client']} → {user.client}")
    if tuple(sorted(found["roles"])) != user.roles:
        differences.append(f"roles {', '.join(found['roles'])} → {', '.join(user.roles)}")
    if not differences and not await admins.logs_in(zone, user.name, user.password):
        differences.append("it does not log in with the deployment's password")
    if not differences:
        return None
    remove: Step = ("DELETE", f"/users/{user.name}", None, (204,))
    return Change(zone, f"make user {user.name} again: {'; '.join(differences)}", (remove, create))


async def _registration_changes(
    admins: Admins,
    topology: Topology,
    secrets: dict[str, Any],
    parent: str,
    remade: set[tuple[str, str]],
) -> list[Change]:
    listed = await admins.call(parent, "GET", "/zones")
    by_url = {record["api_url"]: record for record in listed["zones"]}
    by_name = {record["name"]: record for record in listed["zones"]}
    changes = []
    for child in topology.zones[parent].children:
        url = topology.zones[child].url
        credentials = {
            "username": service_user(parent),
            "password": secrets["service"][f"{parent}>{child}"],
        }
        link = topology.zones[parent].link(child)
        wanted = {"name": child, "enabled": link.enabled, "weight_offset": link.weight_offset}
        record = by_url.get(url) or by_name.get(child)
        if record is None:
            body = {"zone": {"api_url": url, **credentials, **wanted}}
            says = f"register child {child} at {url} (as {credentials['username']})"
            changes.append(Change(parent, says, (("POST", "/zones", body, (201,)),), True))
            continue
        fix, differences = _differences(record, url, wanted)
        if (
            record["username"] != credentials["username"]
            or (child, credentials["username"]) in remade
            or _refuses_credentials(record)
        ):
            fix.update(credentials)
            differences.append(f"credentials (as {credentials['username']})")
        if fix:
            step: Step = ("PUT", f"/zones/{record['id']}", {"zone": fix}, (200,))
            changes.append(
                Change(parent, f"child {child}: {'; '.join(differences)}", (step,), True)
            )
    return changes


def _differences(
    record: dict[str, Any], url: str, wanted: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The fields of a registration that differ from the file's, and each in words."""
    fix: dict[str, Any] = {}
    said: list[str] = []
    if record["api_url"] != url:
        fix["api_url"] = url
        said.append(f"api_url {record['api_url']} → {url}")
    for key, value in wanted.items():
        if record[key] != value:
            fix[key] = value
            said.append(f"{key} {_spelled(record[key])} → {_spelled(value)}")
    return fix, said


def _refuses_credentials(record: dict[str, Any]) -> bool:
    """Whether the child's last answer to this parent refused its login."""
    error = record.get("last_error") or ""
    return record["state"] in ("offline", "unknown") and "/auth/tokens answered 401" in error


def _spelled(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
