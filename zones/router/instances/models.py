"""The instances a zone holds: placed on one of its hosts, or kept with a fault (nothing lost)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
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


class InstanceMapping(Base):
    """Where an instance below this zone lives: which child leads to it.

    `snapshot` is the instance as the child last answered, so that a list can
    still show it (as UNKNOWN) while that child is down. A PENDING mapping
    records a create whose answer never came: a retry with the same id goes
    straight back to that child rather than placing a second copy elsewhere.
    """

    __tablename__ = "instance_mappings"
    __table_args__ = (
        Index("ix_instance_mappings_client_order", "client", "created_at", "instance_id"),
        Index("ix_instance_mappings_client_child", "client", "child_id"),
    )

    instance_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    child_id: Mapped[int] = mapped_column(
        ForeignKey("child_zones.id", ondelete="CASCADE"), index=True
    )
    client: Mapped[str] = mapped_column(String(63))
    state: Mapped[str] = mapped_column(String(16))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
