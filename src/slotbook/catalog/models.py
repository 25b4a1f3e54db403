from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from slotbook.storage import Base, TenantScoped, UTCDateTime


class Outlet(TenantScoped, Base):
    __tablename__ = "outlets"

    name: Mapped[str] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Service(TenantScoped, Base):
    __tablename__ = "services"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "slug"),)

    name: Mapped[str] = mapped_column(sa.String(200))
    slug: Mapped[str] = mapped_column(sa.String(80))
    category: Mapped[str | None] = mapped_column(sa.String(100))
    description: Mapped[str | None] = mapped_column(sa.Text())
    duration: Mapped[int] = mapped_column(sa.Integer())
    price_type: Mapped[str | None] = mapped_column(sa.String(16))
    base_price: Mapped[int | None] = mapped_column(sa.BigInteger())
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    allow_parallel_bookings: Mapped[bool] = mapped_column(sa.Boolean(), default=False)
    max_parallel_bookings: Mapped[int] = mapped_column(sa.Integer(), default=1)
    # Customers may wait for a place in a full session (classes only); at most
    # ``waitlist_limit`` per session, None for no limit.
    waitlist_enabled: Mapped[bool] = mapped_column(sa.Boolean(), server_default=sa.false())
    waitlist_limit: Mapped[int | None] = mapped_column(sa.Integer())
    slot_interval: Mapped[int] = mapped_column(sa.Integer())
    # "open": any start inside working hours books; "timetable": only the sessions of
    # its class schedules.
    booking_mode: Mapped[str] = mapped_column(sa.String(16), server_default="open")
    active: Mapped[bool] = mapped_column(sa.Boolean(), default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def capacity(self) -> int:
        """Effective capacity: a single-booking service holds one customer."""
        return self.max_parallel_bookings if self.allow_parallel_bookings else 1

    @property
    def timetable(self) -> bool:
        return self.booking_mode == "timetable"


class Staff(TenantScoped, Base):
    __tablename__ = "staff"

    outlet_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("outlets.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    # {"monday": [{"start": "09:00", "end": "17:00"}], ...}, local wall-clock at the outlet.
    working_hours: Mapped[dict[str, Any]] = mapped_column(sa.JSON())
    active: Mapped[bool] = mapped_column(sa.Boolean(), default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StaffService(Base):
    """Which services a staff member offers."""

    __tablename__ = "staff_services"

    tenant_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )


class TimeOff(TenantScoped, Base):
    __tablename__ = "time_off"

    staff_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    # Local wall-clock at the outlet, as entered.
    start: Mapped[datetime] = mapped_column(sa.DateTime(timezone=False))
    end: Mapped[datetime] = mapped_column(sa.DateTime(timezone=False))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Customer(TenantScoped, Base):
    __tablename__ = "customers"

    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ClassSchedule(TenantScoped, Base):
    """A class that recurs: a service taught by one instructor at one outlet, at a local
    start time on the dates of an RFC 5545 rule from ``first_date`` (to ``last_date``).

    Its sessions are laid out as ``class_sessions`` rows up to a horizon
    (``sessions_until``), which the worker moves forward day by day; a session is the
    only time a timetable class can be booked.
    """

    __tablename__ = "class_schedules"

    service_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("services.id"), index=True)
    outlet_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("outlets.id"))
    staff_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("staff.id"))
    start_time: Mapped[time] = mapped_column(sa.Time())
    rrule: Mapped[str] = mapped_column(sa.String(500))
    first_date: Mapped[date] = mapped_column(sa.Date())
    last_date: Mapped[date | None] = mapped_column(sa.Date())
    # Spots of its sessions, replacing the service's; None follows the service.
    capacity: Mapped[int | None] = mapped_column(sa.Integer())
    sessions_until: Mapped[date] = mapped_column(sa.Date())
    created_by: Mapped[str | None] = mapped_column(sa.String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ClassSession(TenantScoped, Base):
    """One dated session of a class schedule. It holds its instructor's time whether or
    not anyone booked; bookings of it are appointment lines at exactly its staff,
    service, start and end.

    ``occurrence_date`` is the date the rule gave it, which stays when the session is
    moved; with the schedule it keys the session, so laying out a date twice is
    harmless. ``capacity`` is its own number of spots (the schedule's or the service's
    when laid out, following later changes of either).
    """

    __tablename__ = "class_sessions"
    __table_args__ = (
        sa.UniqueConstraint("schedule_id", "occurrence_date"),
        # Every booking decision reads its staff's sessions around the candidate.
        sa.Index("ix_class_sessions_staff", "tenant_id", "staff_id", "starts_at"),
        # The grid and the timetable list a service's sessions in a range.
        sa.Index("ix_class_sessions_service", "tenant_id", "service_id", "starts_at"),
    )

    schedule_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("class_schedules.id", ondelete="CASCADE")
    )
    service_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("services.id"))
    outlet_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("outlets.id"))
    staff_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("staff.id"))
    occurrence_date: Mapped[date] = mapped_column(sa.Date())
    session_date: Mapped[date] = mapped_column(sa.Date())
    start_time: Mapped[time] = mapped_column(sa.Time())
    end_time: Mapped[time] = mapped_column(sa.Time())
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int] = mapped_column(sa.Integer())
    # "scheduled" or "cancelled".
    status: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))


class ClassSessionEvent(TenantScoped, Base):
    """A session's history: cancelled, moved, substituted, changed by its schedule."""

    __tablename__ = "class_session_events"

    session_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("class_sessions.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(sa.String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[str | None] = mapped_column(sa.String(24))
    actor: Mapped[str] = mapped_column(sa.String(16))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON())


# Frozen views: what hot reads (booking, the grid) need of a row, without the ORM.


@dataclass(frozen=True, slots=True)
class OutletView:
    id: str
    name: str
    timezone: str


@dataclass(frozen=True, slots=True)
class ServiceView:
    id: str
    name: str
    duration: int
    allow_parallel_bookings: bool
    max_parallel_bookings: int
    slot_interval: int
    active: bool
    waitlist_enabled: bool = False
    waitlist_limit: int | None = None
    booking_mode: str = "open"

    @property
    def capacity(self) -> int:
        """Effective capacity: a single-booking service holds one customer."""
        return self.max_parallel_bookings if self.allow_parallel_bookings else 1

    @property
    def timetable(self) -> bool:
        return self.booking_mode == "timetable"


@dataclass(frozen=True, slots=True)
class StaffView:
    id: str
    name: str
    outlet_id: str
    working_hours: dict[str, Any]
    active: bool


@dataclass(frozen=True, slots=True)
class CustomerView:
    id: str
    name: str
    email: str | None
