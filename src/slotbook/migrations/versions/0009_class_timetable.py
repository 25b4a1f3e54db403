"""the class timetable: services booked by timetable, class schedules, their dated
sessions (which hold the instructor's time) and each session's history

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:21:30.072748
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "class_schedules",
        sa.Column("service_id", sa.String(length=24), nullable=False),
        sa.Column("outlet_id", sa.String(length=24), nullable=False),
        sa.Column("staff_id", sa.String(length=24), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("rrule", sa.String(length=500), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("sessions_until", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("tenant_id", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["outlet_id"], ["outlets.id"], name=op.f("fk_class_schedules_outlet_id_outlets")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_class_schedules_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_class_schedules_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_class_schedules_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_schedules")),
    )
    op.create_index(
        op.f("ix_class_schedules_service_id"), "class_schedules", ["service_id"], unique=False
    )
    op.create_index(
        op.f("ix_class_schedules_tenant_id"), "class_schedules", ["tenant_id"], unique=False
    )
    op.create_table(
        "class_sessions",
        sa.Column("schedule_id", sa.String(length=24), nullable=False),
        sa.Column("service_id", sa.String(length=24), nullable=False),
        sa.Column("outlet_id", sa.String(length=24), nullable=False),
        sa.Column("staff_id", sa.String(length=24), nullable=False),
        sa.Column("occurrence_date", sa.Date(), nullable=False),
        sa.Column("session_date", sa.Date(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("tenant_id", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["outlet_id"], ["outlets.id"], name=op.f("fk_class_sessions_outlet_id_outlets")
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["class_schedules.id"],
            name=op.f("fk_class_sessions_schedule_id_class_schedules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_class_sessions_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_class_sessions_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_class_sessions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_sessions")),
        sa.UniqueConstraint(
            "schedule_id",
            "occurrence_date",
            name=op.f("uq_class_sessions_schedule_id_occurrence_date"),
        ),
    )
    op.create_index(
        "ix_class_sessions_service",
        "class_sessions",
        ["tenant_id", "service_id", "starts_at"],
        unique=False,
    )
    op.create_index(
        "ix_class_sessions_staff",
        "class_sessions",
        ["tenant_id", "staff_id", "starts_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_class_sessions_tenant_id"), "class_sessions", ["tenant_id"], unique=False
    )
    op.create_table(
        "class_session_events",
        sa.Column("session_id", sa.String(length=24), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(length=24), nullable=True),
        sa.Column("actor", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("tenant_id", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["class_sessions.id"],
            name=op.f("fk_class_session_events_session_id_class_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_class_session_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_session_events")),
    )
    op.create_index(
        op.f("ix_class_session_events_session_id"),
        "class_session_events",
        ["session_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_class_session_events_tenant_id"),
        "class_session_events",
        ["tenant_id"],
        unique=False,
    )
    op.add_column(
        "services",
        sa.Column("booking_mode", sa.String(length=16), server_default="open", nullable=False),
    )


def downgrade() -> None:

    op.drop_column("services", "booking_mode")
    op.drop_index(op.f("ix_class_session_events_tenant_id"), table_name="class_session_events")
    op.drop_index(op.f("ix_class_session_events_session_id"), table_name="class_session_events")
    op.drop_table("class_session_events")
    op.drop_index(op.f("ix_class_sessions_tenant_id"), table_name="class_sessions")
    op.drop_index("ix_class_sessions_staff", table_name="class_sessions")
    op.drop_index("ix_class_sessions_service", table_name="class_sessions")
    op.drop_table("class_sessions")
    op.drop_index(op.f("ix_class_schedules_tenant_id"), table_name="class_schedules")
    op.drop_index(op.f("ix_class_schedules_service_id"), table_name="class_schedules")
    op.drop_table("class_schedules")
