"""The tables of the host registry: live hosts and the amounts of each resource they hold.

A host is live while `expires_at` is in the future: reads skip expired rows,
so a host that stops sending heartbeats simply disappears, with no cleanup job
and no row to repair. Each resource is its own row with `total` and `used`, so
an allocation is one conditional update that can never drive `free` below zero.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zones.node.database import Base, UtcDateTime


class Host(Base):
    __tablename__ = "hosts"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The capability keys the host keeps itself for (zones.capabilities.reserved), sorted.
    reserved: Mapped[list[str]] = mapped_column(JSON, default=list)
    ttl: Mapped[float] = mapped_column(Float)
    # "user@issuer" of the account whose heartbeats keep this host; see record_heartbeat.
    reported_by: Mapped[str] = mapped_column(String(600))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # What the last heartbeat said (capabilities, inventory, ttl, reporter), hashed: a
    # heartbeat with the same digest only moves the expiry (registry.record_heartbeat).
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resources: Mapped[list[HostResource]] = relationship(
        lazy="raise_on_sql", cascade="all, delete-orphan", passive_deletes=True
    )


class HostResource(Base):
    __tablename__ = "host_resources"

    host_name: Mapped[str] = mapped_column(
        String(255), ForeignKey("hosts.name", ondelete="CASCADE"), primary_key=True
    )
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    total: Mapped[float] = mapped_column(Float)
    used: Mapped[float] = mapped_column(Float, default=0.0)
