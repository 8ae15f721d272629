"""Per-client quotas, and the usage the client index keeps to check them without asking.

`quotas`: the limits set at this zone for a client (null: no limit).
`client_index.resources`: the resource sums of this zone's own placed instances.
`client_children.usage`: the child's subtree usage as it last reported it with its
index news.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quotas",
        sa.Column("client", sa.String(63), primary_key=True),
        sa.Column("instances", sa.Integer(), nullable=True),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("client_index") as table:
        table.add_column(sa.Column("resources", sa.JSON(), nullable=True))
    with op.batch_alter_table("client_children") as table:
        table.add_column(sa.Column("usage", sa.JSON(), nullable=True))
    # What is already placed here: its resource sums, counted once now (from then on they
    # move by deltas). Children report their usage with their next news.
    bind = op.get_bind()
    sums: dict[str, dict[str, float]] = {}
    placed = sa.text("SELECT client, resources FROM instances WHERE status = 'ACTIVE'")
    for client, resources in bind.execute(placed):
        amounts = json.loads(resources) if isinstance(resources, str) else resources or {}
        kept = sums.setdefault(client, {})
        for key, amount in amounts.items():
            kept[key] = round(kept.get(key, 0.0) + float(amount), 6)
    index = sa.table("client_index", sa.column("client"), sa.column("resources", sa.JSON()))
    for client, kept in sums.items():
        bind.execute(index.update().where(index.c.client == client).values(resources=kept))


def downgrade() -> None:
    with op.batch_alter_table("client_children") as table:
        table.drop_column("usage")
    with op.batch_alter_table("client_index") as table:
        table.drop_column("resources")
    op.drop_table("quotas")
