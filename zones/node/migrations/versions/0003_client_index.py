"""The client index: which zone manages each client, kept precomputed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_index",
        sa.Column("client", sa.String(63), primary_key=True),
        sa.Column("local_count", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_client_index_changed_at", "client_index", ["changed_at"])
    op.create_table(
        "client_children",
        sa.Column("client", sa.String(63), primary_key=True),
        sa.Column(
            "child_id",
            sa.Integer(),
            sa.ForeignKey("child_zones.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("answer_revision", sa.Integer(), nullable=False),
    )
    op.create_table(
        "client_index_rebuild",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("child_zones") as table:
        table.add_column(sa.Column("clients_known_at", sa.DateTime(), nullable=True))
    op.create_index(
        "ix_instance_mappings_client_child", "instance_mappings", ["client", "child_id"]
    )
    # What is already held: counts from the existing rows; the children's own answers
    # are learnt with the next change (until then a child that alone holds a client
    # is itself the answer), or at once with `zones reindex`.
    op.execute(
        "INSERT INTO client_index (client, local_count, revision, changed_at) "
        "SELECT client, count(*), 1, CURRENT_TIMESTAMP FROM instances GROUP BY client"
    )
    op.execute(
        "INSERT INTO client_index (client, local_count, revision, changed_at) "
        "SELECT DISTINCT client, 0, 1, CURRENT_TIMESTAMP FROM instance_mappings "
        "WHERE client NOT IN (SELECT client FROM client_index)"
    )
    op.execute(
        "INSERT INTO client_children (client, child_id, count, answer, answer_revision) "
        "SELECT client, child_id, count(*), NULL, -1 FROM instance_mappings "
        "GROUP BY client, child_id"
    )


def downgrade() -> None:
    op.drop_index("ix_instance_mappings_client_child", "instance_mappings")
    with op.batch_alter_table("child_zones") as table:
        table.drop_column("clients_known_at")
    op.drop_table("client_index_rebuild")
    op.drop_table("client_children")
    op.drop_index("ix_client_index_changed_at", "client_index")
    op.drop_table("client_index")
