"""Queries on the instances this zone holds: create once per id, find, page, remove."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from zones.capabilities.hosts.board import HostBoard
from zones.errors import BadRequest, Conflict, NotFound
from zones.node.commits import wrote
from zones.node.database import AsyncSession
from zones.router.index.updates import add_local
from zones.router.instances.models import Instance

MAX_PAGE = 1000


def request_hash(name: str, requirements: Any, resources: Any) -> str:
    """The fingerprint of a create: a retry must send the same one under the same id."""
    canonical = json.dumps(
        {"name": name, "requirements": requirements, "resources": resources}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def same_request(existing: Instance, client: str, fingerprint: str) -> Instance:
    """The instance a retried create made before; 409 when the id was used for something else."""
    if existing.client != client or existing.request_hash != fingerprint:
        raise Conflict(f"instance.id: {existing.id} was already used for another instance")
    return existing


async def find_visible(
    session: AsyncSession, instance_id: str, client: str | None
) -> Instance | None:
    """The instance, when the caller may see it (`client` None: any client, for admins)."""
    instance = await session.get(Instance, instance_id)
    if instance is None or (client is not None and instance.client != client):
        return None
    return instance


async def remove(session: AsyncSession, hosts: HostBoard, instance: Instance) -> bool:
    """Delete the instance and free what it held; False when a concurrent delete won."""
    removed = await session.execute(
        delete(Instance)
        .where(Instance.id == instance.id)
        .execution_options(synchronize_session=False)
    )
    if removed.rowcount != 1:  # type: ignore[attr-defined]
        return False  # only the delete that removed the row gives its allocation back
    wrote(session, Instance)  # a Core delete: the copies that count instances are told
    if instance.host is not None and instance.status == "ACTIVE":
        await hosts.release(session, instance.host, instance.resources)
    held = instance.host is not None and instance.status == "ACTIVE"
    await add_local(session, instance.client, -1, instance.resources if held else None, sign=-1)
    return True


async def page(
    session: AsyncSession,
    client: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Instance]:
    """Up to `limit` instances in (created_at, id) order, after `after`."""
    query = select(Instance).order_by(Instance.created_at, Instance.id).limit(limit)
    if client is not None:
        query = query.where(Instance.client == client)
    if after is not None:
        query = query.where(after_position(Instance.created_at, Instance.id, after))
    return list(await session.scalars(query))


def after_position(
    created_column: InstrumentedAttribute[datetime],
    id_column: InstrumentedAttribute[str],
    after: tuple[datetime, str],
) -> ColumnElement[bool]:
    """Rows strictly after `after` in (created_at, id) order: the paging condition."""
    created_at, instance_id = after
    return or_(
        created_column > created_at, and_(created_column == created_at, id_column > instance_id)
    )


PAGE_LIMIT: dict[str, object] = {
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_PAGE,
}  # as page_limit reads it


def page_limit(raw: str | None) -> int:
    if raw is None:
        return 100
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest(f"limit: must be a whole number from 1 to {MAX_PAGE}, got {raw[:50]!r}")
    return int(raw)


def not_found(instance_id: str) -> NotFound:
    return NotFound(f"instance {instance_id} does not exist")
