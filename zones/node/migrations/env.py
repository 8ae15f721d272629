"""Alembic environment: runs migrations on the connection the node hands over."""

from __future__ import annotations

from alembic import context

import zones.node.tables  # noqa: F401 - registers every table on Base.metadata
from zones.node.database import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
