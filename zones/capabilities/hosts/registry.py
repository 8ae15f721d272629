"""The host registry: heartbeats in, live hosts out.

`record_heartbeat` stores what a host says of itself and pushes its expiry
forward; `live_hosts` reads only hosts whose expiry is still ahead. Presence
and amounts live in the zone's database, not in process memory, so several
worker processes over one PostgreSQL database see the same hosts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import selectinload

from zones.capabilities.hosts.models import Host, HostResource
from zones.capabilities.values import CapabilityValue
from zones.errors import Forbidden, NotFound
from zones.node.database import AsyncSession, upsert, utcnow
from zones.node.http.callers import Identity, Role


@dataclass(frozen=True)
class LiveHost:
    """A host as reads see it: what it offers, holds, has given out and has free."""

    name: str
    capabilities: dict[str, CapabilityValue]
    inventory: dict[str, float]
    allocations: dict[str, float]
    expires_at: datetime

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
) -> LiveHost:
    """Store a heartbeat. A live host belongs to the account that reports it: another
    host account may not speak for it until it expires (admins may, and take it over)."""
    now = utcnow()
    reported_by = f"{reporter.username}@{reporter.issuer}"
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
            "ttl": ttl,
            "reported_by": reported_by,
            "expires_at": now + timedelta(seconds=ttl),
            "updated_at": now,
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
    live = select(Host.name).where(Host.name == name, Host.expires_at > utcnow())
    taken: dict[str, float] = {}
    for resource, amount in resources.items():
        if amount == 0:
            continue
        result = await session.execute(
            update(HostResource)
            .where(
                HostResource.host_name.in_(live),
                HostResource.resource == resource,
                HostResource.total - HostResource.used >= amount,
            )
            .values(used=HostResource.used + amount)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            await release(session, name, taken)
            return False
        taken[resource] = amount
    return True


async def release(session: AsyncSession, name: str, resources: Mapping[str, float]) -> None:
    """Give back what `allocate` took, never below zero (the host may have been re-registered)."""
    for resource, amount in resources.items():
        remaining = HostResource.used - amount
        await session.execute(
            update(HostResource)
            .where(HostResource.host_name == name, HostResource.resource == resource)
            .values(used=case((remaining < 0, 0.0), else_=remaining))
            .execution_options(synchronize_session=False)
        )
