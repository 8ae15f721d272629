"""The instances a zone holds: placed on one of its hosts, or kept with a fault (nothing lost)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from zones.node.database import Base, UtcDateTime


class Instance(Base):
    """An instance held here: ACTIVE on `host`, or ERROR with a `fault` when nothing fit."""

    __tablename__ = "instances"
    __table_args__ = (Index("ix_instances_client_order", "client", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    client: Mapped[str] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(16))
    zone: Mapped[str] = mapped_column(String(63))
    host: Mapped[str | None] = mapped_column(String(255))
    path: Mapped[list[str]] = mapped_column(JSON)
    requirements: Mapped[dict[str, Any]] = mapped_column(JSON)
    resources: Mapped[dict[str, float]] = mapped_column(JSON)
    fault: Mapped[str | None] = mapped_column(String(1024))
    # What the create asked for, hashed: a retry with the same id must ask the same.
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
