"""The zone's own identity: a uuid made at its first start and kept for life."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, select
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
