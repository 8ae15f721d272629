"""The first schema: the zone's identity, users, hosts, children and what polls learn.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zone_identity",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("client", sa.String(63), nullable=False, index=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "child_zones",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("name_is_provisional", sa.Boolean(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=True, unique=True),
        sa.Column("api_url", sa.String(2048), nullable=False, unique=True),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("weight_offset", sa.Float(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_info", sa.JSON(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("poll_latency_ms", sa.Float(), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "hosts",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("ttl", sa.Float(), nullable=False),
        sa.Column("reported_by", sa.String(600), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False, index=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "host_resources",
        sa.Column(
            "host_name",
            sa.String(255),
            sa.ForeignKey("hosts.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("resource", sa.String(64), primary_key=True),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("used", sa.Float(), nullable=False),
    )
    op.create_table(
        "child_capabilities",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "child_id",
            sa.Integer(),
            sa.ForeignKey("child_zones.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value_type", sa.String(8), nullable=False),
        sa.Column("string_value", sa.String(256), nullable=True),
        sa.Column("float_min", sa.Float(), nullable=True),
        sa.Column("float_max", sa.Float(), nullable=True),
    )
    op.create_index("ix_child_capabilities_key", "child_capabilities", ["key", "child_id"])
    op.create_table(
        "child_free",
        sa.Column(
            "child_id",
            sa.Integer(),
            sa.ForeignKey("child_zones.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("resource", sa.String(64), primary_key=True),
        sa.Column("max", sa.Float(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("child_free")
    op.drop_index("ix_child_capabilities_key", "child_capabilities")
    op.drop_table("child_capabilities")
    op.drop_table("host_resources")
    op.drop_table("hosts")
    op.drop_table("child_zones")
    op.drop_table("users")
    op.drop_table("zone_identity")
