"""Everything the day view reads, in six queries whatever the day holds.

The outlet; every line of the outlet's appointments starting that day with its
appointment, service and customer joined in; the waiting customers of the day's sessions
that have not started, likewise; the timetable's scheduled class sessions of the day with
their service (so that a class nobody has booked yet still shows, with its own
capacity); the staff (the outlet's active members and whoever those lines, entries and
sessions name); their time off (``scheduling.schedules``). No query per staff member,
block or customer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.booking.models import Appointment, AppointmentLine, WaitlistEntry
from slotbook.catalog.models import (
    ClassSession,
    Customer,
    OutletView,
    Service,
    Staff,
    StaffView,
)
from slotbook.catalog.repository import OutletRepository
from slotbook.repository import view_columns
from slotbook.scheduling import rules
from slotbook.scheduling.schedules import load_schedules
from slotbook.storage import TENANT_ID, Query, storage_of

# Lines of one outlet's appointments starting in [start, end), whatever their status.
# No line crosses the outlet's midnight (``rules.within_schedule``), so a day's lines
# are exactly those starting in it.
_DAY_LINES = Query(
    sa.select(
        AppointmentLine.staff_id,
        AppointmentLine.service_id,
        Service.name,
        Service.allow_parallel_bookings,
        Service.max_parallel_bookings,
        Service.waitlist_enabled,
        Service.waitlist_limit,
        Service.booking_mode,
        AppointmentLine.starts_at,
        AppointmentLine.ends_at,
        AppointmentLine.status,
        Appointment.id,
        Appointment.starts_at,
        Appointment.notes,
        Appointment.party_size,
        Customer.id,
        Customer.name,
        Customer.email,
        Customer.phone,
    )
    .join(Appointment, Appointment.id == AppointmentLine.appointment_id)
    .join(Service, Service.id == AppointmentLine.service_id)
    .join(Customer, Customer.id == Appointment.customer_id)
    .where(
        AppointmentLine.tenant_id == TENANT_ID,
        Appointment.tenant_id == TENANT_ID,
        Appointment.outlet_id == sa.bindparam("outlet_id"),
        AppointmentLine.starts_at >= sa.bindparam("start"),
        AppointmentLine.starts_at < sa.bindparam("end"),
    )
    .order_by(AppointmentLine.starts_at, AppointmentLine.staff_id, Appointment.id)
)
# The waiting entries of the outlet's sessions starting in [start, end), in joining order
# within each session (a session that has started takes nobody from its line).
_DAY_WAITING = Query(
    sa.select(
        WaitlistEntry.staff_id,
        WaitlistEntry.service_id,
        Service.name,
        Service.allow_parallel_bookings,
        Service.max_parallel_bookings,
        Service.waitlist_enabled,
        Service.waitlist_limit,
        Service.booking_mode,
        WaitlistEntry.starts_at,
        WaitlistEntry.ends_at,
        WaitlistEntry.id,
        WaitlistEntry.party_size,
        WaitlistEntry.created_at,
        Customer.id,
        Customer.name,
        Customer.email,
        Customer.phone,
    )
    .join(Service, Service.id == WaitlistEntry.service_id)
    .join(Customer, Customer.id == WaitlistEntry.customer_id)
    .where(
        WaitlistEntry.tenant_id == TENANT_ID,
        WaitlistEntry.outlet_id == sa.bindparam("outlet_id"),
        WaitlistEntry.status == rules.WaitlistStatus.WAITING.value,
        WaitlistEntry.starts_at >= sa.bindparam("start"),
        WaitlistEntry.starts_at < sa.bindparam("end"),
    )
    .order_by(
        WaitlistEntry.starts_at, WaitlistEntry.staff_id, WaitlistEntry.service_id, WaitlistEntry.seq
    )
)
# The outlet's scheduled class sessions starting in [start, end), booked or not, with
# their service (a cancelled session holds nobody's time; its cancelled bookings still
# come with the lines).
_DAY_CLASSES = Query(
    sa.select(
        ClassSession.staff_id,
        ClassSession.service_id,
        Service.name,
        Service.allow_parallel_bookings,
        Service.max_parallel_bookings,
        Service.waitlist_enabled,
        Service.waitlist_limit,
        Service.booking_mode,
        ClassSession.starts_at,
        ClassSession.ends_at,
        ClassSession.id,
        ClassSession.capacity,
    )
    .join(Service, Service.id == ClassSession.service_id)
    .where(
        ClassSession.tenant_id == TENANT_ID,
        Service.tenant_id == TENANT_ID,
        ClassSession.outlet_id == sa.bindparam("outlet_id"),
        ClassSession.status == rules.SCHEDULED,
        ClassSession.starts_at >= sa.bindparam("start"),
        ClassSession.starts_at < sa.bindparam("end"),
    )
    .order_by(ClassSession.starts_at, ClassSession.staff_id, ClassSession.id)
)
# The outlet's active staff, and anyone else its day's lines name (a former member, or
# one who moved to another outlet), so that no booking goes missing from the desk.
_DAY_STAFF = Query(
    sa.select(*view_columns(Staff, StaffView))
    .where(
        Staff.tenant_id == TENANT_ID,
        sa.or_(
            sa.and_(Staff.outlet_id == sa.bindparam("outlet_id"), Staff.active.is_(True)),
            Staff.id.in_(sa.bindparam("staff_ids", expanding=True)),
        ),
    )
    .order_by(Staff.name, Staff.id)
)


@dataclass(frozen=True, slots=True)
class LineService:
    """The service of a line, as ``scheduling.local.policy_of`` takes it."""

    id: str
    name: str
    allow_parallel_bookings: bool
    max_parallel_bookings: int
    waitlist_enabled: bool
    waitlist_limit: int | None
    booking_mode: str = "open"

    @property
    def timetable(self) -> bool:
        return self.booking_mode == "timetable"


@dataclass(frozen=True, slots=True)
class DayLine:
    """One line of the day with its appointment's and customer's details."""

    staff_id: str
    service: LineService
    starts_at: datetime
    ends_at: datetime
    status: str
    appointment_id: str
    appointment_starts_at: datetime
    notes: str | None
    party_size: int
    customer_id: str
    customer_name: str
    customer_email: str | None
    customer_phone: str | None


@dataclass(frozen=True, slots=True)
class DayClass:
    """A scheduled session of a timetable class that day, with its own capacity."""

    staff_id: str
    service: LineService
    starts_at: datetime
    ends_at: datetime
    session_id: str
    capacity: int


@dataclass(frozen=True, slots=True)
class DayWaiting:
    """A customer waiting for a place in one of the day's sessions."""

    staff_id: str
    service: LineService
    starts_at: datetime
    ends_at: datetime
    entry_id: str
    party_size: int
    joined_at: datetime
    customer_id: str
    customer_name: str
    customer_email: str | None
    customer_phone: str | None


T = TypeVar("T")


def _with_service(kind: Callable[..., T], rows: Sequence[Any]) -> list[T]:
    """Rows as the day's queries select them: the staff member, the service's columns
    (``LineService``'s fields, in order), then the rest of ``kind``'s fields in order."""
    return [kind(row[0], LineService(*row[1:8]), *row[8:]) for row in rows]


class DeskRepository:
    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def _fetch(self, query: Query, params: Mapping[str, Any]) -> Sequence[Any]:
        values = {**params, "tenant_id": self.tenant_id}
        return await storage_of(self.session).fetch(self.session, query, values)

    async def outlet(self, outlet_id: str) -> OutletView:
        """A query parameter, not a path id: unknown or another tenant's is 422 naming it."""
        outlets = OutletRepository(self.session, self.tenant_id)
        return await outlets.view_for_field(outlet_id, "outlet_id")

    async def lines(self, outlet_id: str, start: datetime, end: datetime) -> list[DayLine]:
        rows = await self._fetch(_DAY_LINES, {"outlet_id": outlet_id, "start": start, "end": end})
        return _with_service(DayLine, rows)

    async def waiting(self, outlet_id: str, start: datetime, end: datetime) -> list[DayWaiting]:
        """Waiting customers of the outlet's sessions starting in [start, end), by session
        and then in joining order (the order the waitlist promotes them)."""
        rows = await self._fetch(_DAY_WAITING, {"outlet_id": outlet_id, "start": start, "end": end})
        return _with_service(DayWaiting, rows)

    async def classes(self, outlet_id: str, start: datetime, end: datetime) -> list[DayClass]:
        """The outlet's scheduled class sessions starting in [start, end), by start."""
        rows = await self._fetch(_DAY_CLASSES, {"outlet_id": outlet_id, "start": start, "end": end})
        return _with_service(DayClass, rows)

    async def staff(self, outlet_id: str, also: Collection[str]) -> list[StaffView]:
        """The outlet's active staff and the members ``also`` names, by name."""
        rows = await self._fetch(_DAY_STAFF, {"outlet_id": outlet_id, "staff_ids": sorted(also)})
        return [StaffView(*row) for row in rows]

    async def schedules(
        self, staff: Sequence[StaffView], zone: ZoneInfo, start: datetime, end: datetime
    ) -> dict[str, rules.Schedule]:
        """Working hours and time off of these staff around [start, end), in one query."""
        return await load_schedules(self.session, self.tenant_id, staff, zone, start, end)
