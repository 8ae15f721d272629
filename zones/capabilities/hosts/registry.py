"""The host registry: heartbeats in, live hosts out.

`record_heartbeat` stores what a host says of itself and pushes its expiry
forward; `live_hosts` reads only hosts whose expiry is still ahead. Presence
and amounts live in the zone's database, so several worker processes over
one PostgreSQL database see the same hosts (zones.capabilities.hosts.board
keeps each worker's copy).

A host repeats itself: most heartbeats only move the expiry. Each stored
heartbeat keeps a digest of what it said, and a heartbeat with the same
digest is one conditional UPDATE that also returns the host's amounts; only
one that says something new takes the full path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Float, bindparam, case, delete, func, select, update
from sqlalchemy.orm import selectinload

from zones.capabilities.hosts.models import Host, HostResource
from zones.capabilities.values import CapabilityValue
from zones.errors import Forbidden, NotFound
from zones.node.database import (
    AsyncSession,
    UtcDateTime,
    dialect_of,
    run,
    upsert,
    utcnow,
)
from zones.node.http.callers import Identity, Role


@dataclass(frozen=True)
class LiveHost:
    """A host as reads see it: what it offers, holds, has given out and has free."""

    name: str
    capabilities: dict[str, CapabilityValue]
    inventory: dict[str, float]
    allocations: dict[str, float]
    expires_at: datetime
    digest: str | None = None  # what its last stored heartbeat said, hashed
    reserved: tuple[str, ...] = ()  # the capability keys it keeps itself for, sorted

    @property
    def free(self) -> dict[str, float]:
        return {
            key: total - self.allocations.get(key, 0.0) for key, total in self.inventory.items()
        }


async def record_heartbeat(
    session: AsyncSession,
    name: str,
    capabilities: Mapping[str, CapabilityValue],
    inventory: Mapping[str, float],
    ttl: float,
    reporter: Identity,
    reserved: tuple[str, ...] = (),
) -> LiveHost:
    """Store a heartbeat. A live host belongs to the account that reports it: another
    host account may not speak for it until it expires (admins may, and take it over)."""
    now = utcnow()
    reported_by = _reported_by(reporter)
    digest = heartbeat_digest(capabilities, inventory, ttl, reporter, reserved)
    unchanged = await _refresh_unchanged(session, name, digest, now + timedelta(seconds=ttl), now)
    if unchanged is not None:
        return unchanged
    holder = await session.scalar(
        select(Host.reported_by).where(Host.name == name, Host.expires_at > now)
    )
    if holder not in (None, reported_by) and Role.ADMIN not in reporter.roles:
        raise Forbidden(f"host {name!r} is reported by another account until its ttl passes")
    await upsert(
        session,
        Host,
        {
            "name": name,
            "capabilities": dict(capabilities),
            "reserved": list(reserved),
            "ttl": ttl,
            "reported_by": reported_by,
            "expires_at": now + timedelta(seconds=ttl),
            "updated_at": now,
            "digest": digest,
        },
        keys=["name"],
    )
    for resource, total in inventory.items():
        await upsert(
            session,
            HostResource,
            {"host_name": name, "resource": resource, "total": total, "used": 0.0},
            keys=["host_name", "resource"],
            update=["total"],
        )
    await _forget_dropped_resources(session, name, set(inventory))
    return await _load(session, name)


def _reported_by(reporter: Identity) -> str:
    return f"{reporter.username}@{reporter.issuer}"


def heartbeat_digest(
    capabilities: Mapping[str, CapabilityValue],
    inventory: Mapping[str, float],
    ttl: float,
    reporter: Identity,
    reserved: tuple[str, ...] = (),
) -> str:
    """Everything a heartbeat says, hashed: the same digest means nothing but the expiry moves
    (the reporter is in it, so a digest match is also the account that holds the host)."""
    said: list[Any] = [dict(capabilities), {key: float(total) for key, total in inventory.items()}]
    if reserved:  # only then: the digests of hosts that reserve nothing stay as they were
        said.append(sorted(reserved))
    document = json.dumps(
        [*said, float(ttl), _reported_by(reporter)], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(document.encode()).hexdigest()


async def _refresh_unchanged(
    session: AsyncSession, name: str, digest: str, expires_at: datetime, now: datetime
) -> LiveHost | None:
    """Move the expiry of a host whose last heartbeat said the same: one statement that
    returns the host as reads see it. None when the heartbeat says something new."""
    statement = _refresh_statement(dialect_of(session))
    params = {"host": name, "said": digest, "expires": expires_at, "at": now}
    row = (await run(session, statement, params)).first()
    if row is None:
        return None
    amounts = row.amounts if isinstance(row.amounts, dict) else json.loads(row.amounts or "{}")
    return LiveHost(
        name=name,
        capabilities=dict(row.capabilities),
        inventory={key: float(total) for key, (total, _) in amounts.items()},
        allocations={key: float(used) for key, (_, used) in amounts.items()},
        expires_at=row.expires_at,
        digest=digest,
        reserved=tuple(row.reserved or ()),
    )


# A host's expiry moved, unless its last stored heartbeat said something else since
# (parameters: host, said, expires, at).
_move_expiry = (
    update(Host)
    .where(Host.name == bindparam("host"), Host.digest == bindparam("said"))
    .values(
        expires_at=bindparam("expires", type_=UtcDateTime()),
        updated_at=bindparam("at", type_=UtcDateTime()),
    )
)


@cache
def _refresh_statement(dialect: str) -> Any:
    """Built once per backend: `_move_expiry`, returning each resource's [total, used]."""
    sqlite = dialect == "sqlite"
    pairs = func.json_group_object if sqlite else func.json_object_agg
    array = func.json_array if sqlite else func.json_build_array
    amounts = (
        select(pairs(HostResource.resource, array(HostResource.total, HostResource.used)))
        .where(HostResource.host_name == Host.name)
        .scalar_subquery()
    )
    return _move_expiry.returning(
        Host.capabilities, Host.reserved, Host.expires_at, amounts.label("amounts")
    )


async def move_expiries(session: AsyncSession, moves: list[dict[str, Any]]) -> None:
    """`_move_expiry` for many hosts at once (HostBoard.flush): one statement for all."""
    await run(session, _move_expiry, moves)


async def _forget_dropped_resources(session: AsyncSession, name: str, kept: set[str]) -> None:
    """A resource the host no longer reports goes, unless some of it is still given out."""
    dropped = select(HostResource).where(
        HostResource.host_name == name, HostResource.resource.not_in(kept)
    )
    for row in await session.scalars(dropped):
        if row.used > 0:
            row.total = 0.0
        else:
            await session.delete(row)
    await session.flush()


def _view(host: Host) -> LiveHost:
    return LiveHost(
        name=host.name,
        capabilities=dict(host.capabilities),
        inventory={row.resource: row.total for row in host.resources},
        allocations={row.resource: row.used for row in host.resources},
        expires_at=host.expires_at,
        digest=host.digest,
        reserved=tuple(host.reserved or ()),
    )


async def _load(session: AsyncSession, name: str) -> LiveHost:
    query = select(Host).where(Host.name == name).options(selectinload(Host.resources))
    host = await session.scalar(query.execution_options(populate_existing=True))
    if host is None:
        raise NotFound(f"host {name!r} does not exist")
    return _view(host)


async def live_hosts(session: AsyncSession, now: datetime | None = None) -> list[LiveHost]:
    query = (
        select(Host)
        .where(Host.expires_at > (now or utcnow()))
        .options(selectinload(Host.resources))
        .order_by(Host.name)
    )
    return [_view(host) for host in await session.scalars(query)]


async def remove_host(session: AsyncSession, name: str) -> None:
    removed = await session.execute(delete(Host).where(Host.name == name).returning(Host.name))
    if removed.first() is None:
        raise NotFound(f"host {name!r} does not exist")


def host_record(host: LiveHost) -> dict[str, Any]:
    return {
        "name": host.name,
        "capabilities": host.capabilities,
        "inventory": host.inventory,
        "allocations": host.allocations,
        "free": host.free,
        "reserved": list(host.reserved),
        "expires_at": host.expires_at,
    }


async def allocate(session: AsyncSession, name: str, resources: Mapping[str, float]) -> bool:
    """Take `resources` from a live host's free inventory, all or nothing.

    Each amount is one conditional UPDATE (`total - used >= amount`), which the
    database evaluates under its row lock, so no interleaving of concurrent
    creates can drive a host's free inventory below zero, on SQLite or PostgreSQL.
    When one amount does not fit, the ones already taken are given back in the
    same transaction. (Not a savepoint: with SQLite's driver a savepoint opened
    before any write becomes the outer transaction, and its release commits
    the allocation on its own, before the instance that owns it.)
    """
    taken: dict[str, float] = {}
    now = utcnow()
    for resource, amount in resources.items():
        if amount == 0:
            continue
        params = {"host": name, "which": resource, "amount": amount, "now": now}
        result = await run(session, _take, params)
        if result.rowcount != 1:
            await release(session, name, taken)
            return False
        taken[resource] = amount
    return True


async def release(session: AsyncSession, name: str, resources: Mapping[str, float]) -> None:
    """Give back what `allocate` took, never below zero (the host may have been re-registered)."""
    for resource, amount in resources.items():
        await run(session, _give_back, {"host": name, "which": resource, "amount": amount})


# Built once: the conditional UPDATE that takes an amount from a live host, and the one that
# gives it back (parameters: host, which resource, amount; and now, for the host's
# liveness). Not named after columns: an UPDATE reserves those names for its SET clause.
_amount = bindparam("amount", type_=Float())
_take = (
    update(HostResource)
    .where(
        HostResource.host_name.in_(
            select(Host.name).where(
                Host.name == bindparam("host"),
                Host.expires_at > bindparam("now", type_=UtcDateTime()),
            )
        ),
        HostResource.resource == bindparam("which"),
        HostResource.total - HostResource.used >= _amount,
    )
    .values(used=HostResource.used + _amount)
)
_remaining = HostResource.used - _amount
_give_back = (
    update(HostResource)
    .where(
        HostResource.host_name == bindparam("host"),
        HostResource.resource == bindparam("which"),
    )
    .values(used=case((_remaining < 0, 0.0), else_=_remaining))
)
