"""public booking pages: request counts per client address for the rate limit

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 15:45:00.000000
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
        "public_rate_limits",
        sa.Column("client_key", sa.String(length=80), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client_key", "window_start", name=op.f("pk_public_rate_limits")),
    )
    with op.batch_alter_table("public_rate_limits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_public_rate_limits_window_start"), ["window_start"], unique=False
        )


def downgrade() -> None:
    op.drop_table("public_rate_limits")
