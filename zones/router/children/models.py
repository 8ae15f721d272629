"""The tables of this zone's children: as registered with `POST /zones`, and as last polled.

What a child last reported is kept twice on purpose: whole (`last_info`, for
`/zones/info` and the detail view) and as typed rows (`child_capabilities`,
`child_free`), a string column and float columns as seed 004 proposes, so that
`GET /zones` can filter children by capability with a database query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import ColumnElement, and_

from zones.node.database import Base, UtcDateTime

ZoneState = Literal["online", "offline", "disabled", "unknown"]


class ChildZone(Base):
    """One child: where it is, how to log in to it (password encrypted) and what we know of it."""

    __tablename__ = "child_zones"
    __table_args__ = {"sqlite_autoincrement": True}  # never reuse the id of a removed child

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    # True while the name is a stand-in made from the URL, until the child tells its own.
    name_is_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    uuid: Mapped[str | None] = mapped_column(String(36), unique=True)
    api_url: Mapped[str] = mapped_column(String(2048), unique=True)
    username: Mapped[str] = mapped_column(String(255))
    password_encrypted: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    weight_offset: Mapped[float] = mapped_column(Float, default=0.0)
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    poll_latency_ms: Mapped[float | None] = mapped_column(Float)
    last_polled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The child's `clients_changed_at` up to which its client index changes were fetched.
    clients_known_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    @property
    def display_state(self) -> ZoneState:
        return "disabled" if not self.enabled else cast(ZoneState, self.state)

    @hybrid_property
    def is_healthy(self) -> bool:
        """The one definition of health: only an enabled, online child counts for anything."""
        return self.enabled and self.state == "online"

    @is_healthy.inplace.expression
    @classmethod
    def _is_healthy_expression(cls) -> ColumnElement[bool]:
        return and_(cls.enabled.is_(True), cls.state == "online")


class ChildCapability(Base):
    """One value (or one number range) of a child's aggregated capabilities.

    Strings and bools are rows with `string_value` ("true"/"false" for bools);
    numbers are one row per key with `float_min` and `float_max`.
    """

    __tablename__ = "child_capabilities"
    __table_args__ = (Index("ix_child_capabilities_key", "key", "child_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(
        ForeignKey("child_zones.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))
    value_type: Mapped[str] = mapped_column(String(8))
    string_value: Mapped[str | None] = mapped_column(String(256))
    float_min: Mapped[float | None] = mapped_column(Float)
    float_max: Mapped[float | None] = mapped_column(Float)


class ChildFree(Base):
    """A child's free amount of one resource: most on one host, and the total; and the same of
    its open room (what no reserved key keeps; zones.capabilities.reserved), null for none."""

    __tablename__ = "child_free"

    child_id: Mapped[int] = mapped_column(
        ForeignKey("child_zones.id", ondelete="CASCADE"), primary_key=True
    )
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    max: Mapped[float] = mapped_column(Float)
    sum: Mapped[float] = mapped_column(Float)
    open_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    open_sum: Mapped[float | None] = mapped_column(Float, nullable=True)
