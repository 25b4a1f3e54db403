"""party size and the waitlist: appointments hold several spots, lines carry their
party and customer (spots and places are counted from lines under the lock), services
may keep a waitlist, and customers wait for a place in a full session

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("party_size", sa.Integer(), nullable=False, server_default="1")
        )
    with op.batch_alter_table("appointment_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("party_size", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(sa.Column("customer_id", sa.String(length=24), nullable=True))
    # Lines of existing appointments take their appointment's customer.
    op.execute(
        "UPDATE appointment_lines SET customer_id = (SELECT appointments.customer_id "
        "FROM appointments WHERE appointments.id = appointment_lines.appointment_id)"
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("waitlist_enabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("waitlist_limit", sa.Integer(), nullable=True))
    op.create_table(
        "waitlist_entries",
        sa.Column("outlet_id", sa.String(length=24), nullable=False),
        sa.Column("customer_id", sa.String(length=24), nullable=False),
        sa.Column("service_id", sa.String(length=24), nullable=False),
        sa.Column("staff_id", sa.String(length=24), nullable=False),
        sa.Column("session_date", sa.Date(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("party_size", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("appointment_id", sa.String(length=24), nullable=True),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_via", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("tenant_id", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_waitlist_entries_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_waitlist_entries_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["outlet_id"], ["outlets.id"], name=op.f("fk_waitlist_entries_outlet_id_outlets")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_waitlist_entries_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_waitlist_entries_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_waitlist_entries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitlist_entries_session",
            ["tenant_id", "staff_id", "starts_at", "status"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_waitlist_entries_tenant_id_customer_id"),
            ["tenant_id", "customer_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_waitlist_entries_status_starts_at"),
            ["status", "starts_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_waitlist_entries_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_waitlist_entries_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_waitlist_entries_status_starts_at"))
        batch_op.drop_index(batch_op.f("ix_waitlist_entries_tenant_id_customer_id"))
        batch_op.drop_index("ix_waitlist_entries_session")
    op.drop_table("waitlist_entries")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("waitlist_limit")
        batch_op.drop_column("waitlist_enabled")
    with op.batch_alter_table("appointment_lines", schema=None) as batch_op:
        batch_op.drop_column("customer_id")
        batch_op.drop_column("party_size")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("party_size")
