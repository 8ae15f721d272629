"""The zone's own identity: a uuid made at its first start and kept for life."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from zones.node.database import AsyncSession, Base, UtcDateTime, utcnow


class ZoneIdentity(Base):
    __tablename__ = "zone_identity"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


async def ensure_zone_uuid(session: AsyncSession) -> str:
    """Return this zone's uuid, making it on the first start."""
    identity = await session.scalar(select(ZoneIdentity).where(ZoneIdentity.id == 1))
    if identity is None:
        identity = ZoneIdentity(id=1, uuid=str(uuid.uuid4()), created_at=utcnow())
        session.add(identity)
        await session.flush()
    return identity.uuid


async def serialize_on_zone(session: AsyncSession) -> None:
    """Make concurrent transactions that call this take turns until this one ends.

    A no-op write to the zone's one identity row: PostgreSQL locks the row,
    SQLite takes its write lock, so a check-then-act (is this the last admin?)
    cannot interleave with another one.
    """
    await session.execute(update(ZoneIdentity).where(ZoneIdentity.id == 1).values(id=1))
