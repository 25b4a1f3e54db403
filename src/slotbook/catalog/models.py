from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
    active: Mapped[bool] = mapped_column(sa.Boolean(), default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def capacity(self) -> int:
        """Effective capacity: a single-booking service holds one customer."""
        return self.max_parallel_bookings if self.allow_parallel_bookings else 1


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

    @property
    def capacity(self) -> int:
        """Effective capacity: a single-booking service holds one customer."""
        return self.max_parallel_bookings if self.allow_parallel_bookings else 1


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
