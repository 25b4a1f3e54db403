from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from slotbook.storage import Base, TenantScoped, UTCDateTime


class Appointment(TenantScoped, Base):
    __tablename__ = "appointments"
    __table_args__ = (
        sa.Index(None, "tenant_id", "customer_id"),
        # The reminder worker reads what starts soon, across tenants.
        sa.Index(None, "starts_at"),
    )

    outlet_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("outlets.id"))
    customer_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(sa.String(16))
    # Local wall-clock at the outlet (what the customer was told) ...
    appointment_date: Mapped[date] = mapped_column(sa.Date())
    start_time: Mapped[time] = mapped_column(sa.Time())
    end_time: Mapped[time] = mapped_column(sa.Time())
    # ... and the same interval as instants, for ordering and overlap.
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notes: Mapped[str | None] = mapped_column(sa.Text())
    # Spots the appointment holds in each of its sessions (a family, a group of friends).
    party_size: Mapped[int] = mapped_column(sa.Integer(), server_default="1")
    # The user who booked, or None when the customer booked through the public page.
    created_by: Mapped[str | None] = mapped_column(sa.String(24))
    created_via: Mapped[str] = mapped_column(sa.String(16), server_default="staff")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))


class AppointmentLine(TenantScoped, Base):
    """One service of an appointment with its staff member and interval.

    ``status``, ``party_size`` and ``customer_id`` mirror the appointment's, so the
    capacity decision (spots taken, whose places they are) reads one table through one
    index range (the brief's idx_appointment_parallel_booking_capacity).
    """

    __tablename__ = "appointment_lines"
    __table_args__ = (
        sa.Index(
            "idx_appointment_parallel_booking_capacity",
            "tenant_id",
            "staff_id",
            "starts_at",
            "service_id",
            "status",
            "ends_at",
        ),
    )

    appointment_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer())
    staff_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("staff.id"))
    service_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("services.id"))
    status: Mapped[str] = mapped_column(sa.String(16))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    party_size: Mapped[int] = mapped_column(sa.Integer(), server_default="1")
    customer_id: Mapped[str | None] = mapped_column(sa.String(24))


class WaitlistEntry(TenantScoped, Base):
    """A customer waiting for a place in a full session (staff, service, start).

    ``status`` is waiting, promoted (``appointment_id`` is the booking it became),
    cancelled or expired; a waiting entry whose session has started reads as expired
    before the worker writes it so. ``seq`` is the joining order within the session,
    numbered under the session's lock (the clock may give two joins the same instant).
    """

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        # The session's waiting line, read under its lock by every freeing change.
        sa.Index("ix_waitlist_entries_session", "tenant_id", "staff_id", "starts_at", "status"),
        sa.Index(None, "tenant_id", "customer_id"),
        # The worker's sweep of entries whose session started.
        sa.Index(None, "status", "starts_at"),
    )

    outlet_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("outlets.id"))
    customer_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("customers.id"))
    service_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("services.id"))
    staff_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("staff.id"))
    session_date: Mapped[date] = mapped_column(sa.Date())
    start_time: Mapped[time] = mapped_column(sa.Time())
    end_time: Mapped[time] = mapped_column(sa.Time())
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    party_size: Mapped[int] = mapped_column(sa.Integer())
    seq: Mapped[int] = mapped_column(sa.Integer())
    status: Mapped[str] = mapped_column(sa.String(16))
    appointment_id: Mapped[str | None] = mapped_column(
        sa.String(24), sa.ForeignKey("appointments.id", ondelete="SET NULL")
    )
    created_by: Mapped[str | None] = mapped_column(sa.String(24))
    created_via: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AppointmentEvent(TenantScoped, Base):
    """The audit trail: one row per change, written in the change's transaction."""

    __tablename__ = "appointment_events"

    appointment_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(sa.String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[str | None] = mapped_column(sa.String(24))
    # "user" (user_id says who), "customer" (through the public page) or "system".
    actor: Mapped[str] = mapped_column(sa.String(16), server_default="user")
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON())


class IdempotencyRecord(Base):
    """The first answer to a request carrying an ``Idempotency-Key``."""

    __tablename__ = "idempotency_records"

    tenant_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int] = mapped_column(sa.Integer())
    response: Mapped[dict[str, Any]] = mapped_column(sa.JSON())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
