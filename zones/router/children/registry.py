"""Queries on this zone's children: add, change, list, find, remove.

Names, URLs and uuids are each unique among the children of one zone; a clash
is a Conflict that names the field and the child already holding the value.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from zones.errors import Conflict, NotFound
from zones.node.database import AsyncSession, utcnow
from zones.router.children.models import ChildZone

# Checked in this order, so a clash is named by the field the operator chose
# (the URL) before the ones learnt from the child (its uuid and name).
UNIQUE_FIELDS = ("api_url", "uuid", "name")
MAX_ID = 2**31 - 1  # ids are 32-bit integer columns


async def list_children(session: AsyncSession) -> list[ChildZone]:
    return list(await session.scalars(select(ChildZone).order_by(ChildZone.id)))


async def get_child(session: AsyncSession, child_id: int) -> ChildZone:
    child = await session.get(ChildZone, child_id) if child_id <= MAX_ID else None
    if child is None:
        raise NotFound(f"zone {child_id} does not exist")
    return child


async def check_unique(session: AsyncSession, values: dict[str, Any], own_id: int | None) -> None:
    """Refuse a name, api_url or uuid that another child already has."""
    for field in UNIQUE_FIELDS:
        value = values.get(field)
        if value is None:
            continue
        other = await session.scalar(
            select(ChildZone).where(getattr(ChildZone, field) == value, ChildZone.id != own_id)
        )
        if other is not None:
            raise Conflict(
                f"zone.{field}: child {other.id} ({other.name}) already has {field} {value!r}"
            )


async def add_child(session: AsyncSession, **values: Any) -> ChildZone:
    await check_unique(session, values, own_id=None)
    now = utcnow()
    child = ChildZone(created_at=now, updated_at=now, **values)
    session.add(child)
    await _flush_or_conflict(session)
    return child


async def update_child(session: AsyncSession, child: ChildZone, **values: Any) -> ChildZone:
    await check_unique(session, values, own_id=child.id)
    for field, value in values.items():
        setattr(child, field, value)
    child.updated_at = utcnow()
    await _flush_or_conflict(session)
    return child


async def remove_child(session: AsyncSession, child_id: int) -> None:
    await session.delete(await get_child(session, child_id))


async def _flush_or_conflict(session: AsyncSession) -> None:
    # check_unique answers the common case with a clear message; this catches the
    # race of two concurrent requests adding the same child.
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("zone: another child with the same name, api_url or uuid exists") from exc


def zone_names(child: ChildZone) -> set[str]:
    """The child's own name and the names of every zone below it, as it last said."""
    if child.last_info is None:
        return {child.name}
    below = child.last_info.get("descendant_names", [])
    return {str(child.last_info.get("name", child.name)), *map(str, below)}
