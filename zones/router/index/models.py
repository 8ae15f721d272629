"""The client index's tables: per client, what this zone holds itself and which children hold any.

`client_index.revision` grows on every change of a client's row, in the same
transaction; a parent keeps a child's answer only when it carries a newer
revision than the one it has, so answers that cross on the wire never roll
the index back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from zones.node.database import Base, UtcDateTime


class ClientIndex(Base):
    """One client: how many of its instances this zone holds itself, and their resources."""

    __tablename__ = "client_index"

    client: Mapped[str] = mapped_column(String(63), primary_key=True)
    local_count: Mapped[int] = mapped_column(Integer, default=0)
    # The sums of the `resources` of the instances placed here (not those kept in ERROR).
    resources: Mapped[dict[str, float] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # When the row last changed: parents polling this zone fetch what changed since.
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class ClientChild(Base):
    """One client below one child: how many instances the mappings lead there, and the
    child's own lookup answer for the client as it last told this zone."""

    __tablename__ = "client_children"

    client: Mapped[str] = mapped_column(String(63), primary_key=True)
    child_id: Mapped[int] = mapped_column(
        ForeignKey("child_zones.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    count: Mapped[int] = mapped_column(Integer, default=0)
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    answer_revision: Mapped[int] = mapped_column(Integer, default=-1)
    # The child's usage for the client in its subtree, as it reported it with the answer
    # (zones.router.index.usage); None until it has.
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)


class IndexRebuild(Base):
    """Present while `zones reindex` runs: the index cannot be trusted, lookups ask children."""

    __tablename__ = "client_index_rebuild"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
