"""The quotas table: per client, the limits set at this zone (null: no limit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from zones.node.database import Base, UtcDateTime


class QuotaRow(Base):
    """One client's limits here: how many instances, and how much of each resource."""

    __tablename__ = "quotas"

    client: Mapped[str] = mapped_column(String(63), primary_key=True)
    instances: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resources: Mapped[dict[str, float]] = mapped_column(JSON)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
