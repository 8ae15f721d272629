"""Each host's heartbeat digest: an unchanged heartbeat is then one conditional update.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null for the hosts already here: their next heartbeat takes the full path and sets it.
    with op.batch_alter_table("hosts") as table:
        table.add_column(sa.Column("digest", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hosts") as table:
        table.drop_column("digest")
