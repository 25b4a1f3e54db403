"""who acted: the audit trail and appointments name their actor (a user, or the customer
through the public page), instead of a fake user id

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("created_via", sa.String(length=16), nullable=False, server_default="staff")
        )
    with op.batch_alter_table("appointment_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("actor", sa.String(length=16), nullable=False, server_default="user")
        )
    # Public bookings used to be written as made by a user named "public".
    op.execute(
        "UPDATE appointments SET created_via = 'public', created_by = NULL "
        "WHERE created_by = 'public'"
    )
    op.execute(
        "UPDATE appointment_events SET actor = 'customer', user_id = NULL WHERE user_id = 'public'"
    )


def downgrade() -> None:
    with op.batch_alter_table("appointment_events", schema=None) as batch_op:
        batch_op.drop_column("actor")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("created_via")
