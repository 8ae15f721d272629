"""Reserved capabilities: the keys each host keeps itself for, and each child's open room.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The hosts already here reserve nothing, as before.
    with op.batch_alter_table("hosts") as table:
        table.add_column(
            sa.Column("reserved", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    # Null until the child's next answer is stored (the filters then count none of it open).
    with op.batch_alter_table("child_free") as table:
        table.add_column(sa.Column("open_max", sa.Float(), nullable=True))
        table.add_column(sa.Column("open_sum", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("child_free") as table:
        table.drop_column("open_sum")
        table.drop_column("open_max")
    with op.batch_alter_table("hosts") as table:
        table.drop_column("reserved")
