"""Instances held by a zone.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instances",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("client", sa.String(63), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("zone", sa.String(63), nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("fault", sa.String(1024), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_instances_client_order", "instances", ["client", "created_at", "id"])
    op.create_table(
        "instance_mappings",
        sa.Column("instance_id", sa.String(36), primary_key=True),
        sa.Column(
            "child_id",
            sa.Integer(),
            sa.ForeignKey("child_zones.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("client", sa.String(63), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_instance_mappings_client_order",
        "instance_mappings",
        ["client", "created_at", "instance_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_instance_mappings_client_order", "instance_mappings")
    op.drop_table("instance_mappings")
    op.drop_index("ix_instances_client_order", "instances")
    op.drop_table("instances")
