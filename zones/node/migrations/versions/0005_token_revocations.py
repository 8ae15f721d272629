"""Token revocations: per subject, the moment before which its tokens are revoked.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_revocations",
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("not_before", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_token_revocations_not_before", "token_revocations", ["not_before"])


def downgrade() -> None:
    op.drop_index("ix_token_revocations_not_before", "token_revocations")
    op.drop_table("token_revocations")
